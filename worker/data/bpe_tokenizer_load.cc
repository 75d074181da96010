// Readers of the two vocabulary formats: GPT-2's encoder.json + vocab.bpe and HF's
// tokenizer.json.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "worker/data/bpe_tokenizer.h"
#include "worker/data/file_io.h"
#include "worker/data/fnv1a.h"
#include "worker/data/pretokenize.h"

namespace gwo::data {
namespace {

using Json = nlohmann::json;

absl::StatusOr<Json> ParseJson(const std::string& text, const std::string& path) {
  try {
    return Json::parse(text);
  } catch (const Json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": invalid JSON: ", e.what()));
  }
}

std::string Hex64(uint64_t h) { return absl::StrCat(absl::Hex(h, absl::kZeroPad16)); }

absl::Status Unsupported(const std::string& path, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", what, " is not supported"));
}

// encoder.json: {"token": id, ...}.
absl::Status ReadTokens(const Json& object, const std::string& path, const std::string& where,
                        std::vector<std::pair<std::string, int32_t>>& tokens) {
  if (!object.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", where, " must be an object of token -> id"));
  }
  tokens.reserve(object.size());
  for (const auto& [token, id] : object.items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": the id of token \"", token, "\" is not an integer in [0, 2^31)"));
    }
    tokens.emplace_back(token, id.get<int32_t>());
  }
  return absl::OkStatus();
}

// "left right" (as Python's str.split(): any run of whitespace separates).
bool SplitMerge(absl::string_view line, std::pair<std::string, std::string>& merge) {
  const std::vector<absl::string_view> parts =
      absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
  if (parts.size() != 2) return false;
  merge = {std::string(parts[0]), std::string(parts[1])};
  return true;
}

// vocab.bpe: an optional "#version" line, then one merge per line.
absl::Status ReadMergesText(const std::string& text, const std::string& path,
                            std::vector<std::pair<std::string, std::string>>& merges) {
  int line_number = 0;
  for (const absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    if (line_number == 1 && absl::StartsWith(line, "#version")) continue;
    if (line.find_first_not_of(" \t\r") == absl::string_view::npos) continue;
    std::pair<std::string, std::string> merge;
    if (!SplitMerge(line, merge)) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", line_number, ": expected a merge \"left right\", got \"", line, "\""));
    }
    merges.push_back(std::move(merge));
  }
  return absl::OkStatus();
}

bool IsNullOr(const Json& object, const char* key, const Json& allowed) {
  const auto it = object.find(key);
  return it == object.end() || it->is_null() || *it == allowed;
}

std::string TypeOf(const Json& object) {
  if (!object.is_object()) return object.dump();
  const auto it = object.find("type");
  return it != object.end() && it->is_string() ? it->get<std::string>() : object.dump();
}

// A ByteLevel pre-tokenizer; `use_regex` is what it must say (absent means true).
absl::Status CheckByteLevel(const Json& p, const std::string& path, bool use_regex) {
  if (!IsNullOr(p, "add_prefix_space", false)) return Unsupported(path, "ByteLevel add_prefix_space=true");
  const auto it = p.find("use_regex");
  const bool actual = it == p.end() || it->is_null() || *it == true;
  if (actual != use_regex) {
    return Unsupported(path, absl::StrCat("ByteLevel use_regex=", actual ? "true" : "false", " here"));
  }
  return absl::OkStatus();
}

absl::StatusOr<PretokenizePattern> ReadPreTokenizer(const Json& p, const std::string& path) {
  if (TypeOf(p) == "ByteLevel") {
    GWO_RETURN_IF_ERROR(CheckByteLevel(p, path, /*use_regex=*/true));
    return PretokenizePattern::kGpt2;
  }
  const auto steps = p.is_object() ? p.find("pretokenizers") : p.end();
  if (TypeOf(p) != "Sequence" || steps == p.end() || !steps->is_array() || steps->size() != 2 ||
      TypeOf((*steps)[0]) != "Split" || TypeOf((*steps)[1]) != "ByteLevel") {
    return Unsupported(path, absl::StrCat("pre_tokenizer ", p.dump().substr(0, 200),
                                          " (supported: ByteLevel, or Sequence[Split, ByteLevel])"));
  }
  const Json& split = (*steps)[0];
  GWO_RETURN_IF_ERROR(CheckByteLevel((*steps)[1], path, /*use_regex=*/false));
  if (!IsNullOr(split, "invert", false) || split.value("behavior", "") != "Isolated") {
    return Unsupported(path,
                       absl::StrCat("Split ", split.dump().substr(0, 200), " (only behavior Isolated)"));
  }
  const auto pattern = split.find("pattern");
  const std::string regex = pattern != split.end() && pattern->is_object() && pattern->contains("Regex") &&
                                    (*pattern)["Regex"].is_string()
                                ? (*pattern)["Regex"].get<std::string>()
                                : std::string();
  if (regex == kGpt2PatternRegex) return PretokenizePattern::kGpt2;
  if (regex == kQwen2PatternRegex) return PretokenizePattern::kQwen2;
  return Unsupported(path, absl::StrCat("Split pattern ", pattern != split.end() ? pattern->dump() : "(none)",
                                        " (known: GPT-2's and Qwen2's regular expressions)"));
}

absl::Status ReadHfModel(const Json& model, const std::string& path, BpeVocabulary& vocabulary) {
  if (!model.is_object()) return absl::InvalidArgumentError(absl::StrCat(path, ": \"model\" is missing"));
  if (model.value("type", "BPE") != "BPE") {
    return Unsupported(path, absl::StrCat("model type ", TypeOf(model)));
  }
  if (!IsNullOr(model, "dropout", 0.0)) return Unsupported(path, "BPE dropout");
  if (!IsNullOr(model, "continuing_subword_prefix", "")) {
    return Unsupported(path, "continuing_subword_prefix");
  }
  if (!IsNullOr(model, "end_of_word_suffix", "")) return Unsupported(path, "end_of_word_suffix");
  if (!IsNullOr(model, "byte_fallback", false)) return Unsupported(path, "byte_fallback");
  vocabulary.ignore_merges = model.value("ignore_merges", false);
  const auto vocab = model.find("vocab");
  if (vocab == model.end()) return absl::InvalidArgumentError(absl::StrCat(path, ": model.vocab is missing"));
  GWO_RETURN_IF_ERROR(ReadTokens(*vocab, path, "model.vocab", vocabulary.tokens));
  const auto merges = model.find("merges");
  if (merges == model.end() || !merges->is_array()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": model.merges must be an array"));
  }
  vocabulary.merges.reserve(merges->size());
  for (const Json& m : *merges) {
    std::pair<std::string, std::string> merge;
    bool ok = false;
    if (m.is_string()) {  // "left right"
      ok = SplitMerge(m.get<std::string>(), merge);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {  // ["left", "right"]
      merge = {m[0].get<std::string>(), m[1].get<std::string>()};
      ok = true;
    }
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": model.merges[", vocabulary.merges.size(),
                                                     "] is not \"left right\" or [left, right]: ", m.dump()));
    }
    vocabulary.merges.push_back(std::move(merge));
  }
  return absl::OkStatus();
}

absl::Status ReadHfTokenizer(const Json& j, const std::string& path, BpeVocabulary& vocabulary) {
  if (!j.is_object()) return absl::InvalidArgumentError(absl::StrCat(path, ": expected a JSON object"));
  GWO_RETURN_IF_ERROR(ReadHfModel(j.contains("model") ? j["model"] : Json(), path, vocabulary));
  const Json normalizer = j.value("normalizer", Json());
  if (TypeOf(normalizer) == "NFC") {
    vocabulary.nfc = true;
  } else if (!normalizer.is_null()) {
    return Unsupported(path, absl::StrCat("normalizer ", TypeOf(normalizer)));
  }
  if (!j.contains("pre_tokenizer") || j["pre_tokenizer"].is_null()) {
    return Unsupported(path, "a tokenizer without pre_tokenizer");
  }
  GWO_ASSIGN_OR_RETURN(vocabulary.pattern, ReadPreTokenizer(j["pre_tokenizer"], path));
  const Json added = j.value("added_tokens", Json::array());
  if (!added.is_array()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": added_tokens must be an array"));
  }
  for (const Json& a : added) {
    if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() || a["id"].get<int64_t>() < 0 ||
        a["id"].get<int64_t>() > INT32_MAX || !a.contains("content") || !a["content"].is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": added_tokens entry without an integer id and a content: ", a.dump()));
    }
    vocabulary.added_tokens.emplace_back(a["content"].get<std::string>(), a["id"].get<int32_t>());
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<BpeTokenizer>> BpeTokenizer::FromGpt2Files(const std::string& encoder_json,
                                                                          const std::string& vocab_bpe) {
  GWO_ASSIGN_OR_RETURN(const std::string encoder_text, ReadFileUpTo(encoder_json, -1));
  GWO_ASSIGN_OR_RETURN(const std::string merges_text, ReadFileUpTo(vocab_bpe, -1));
  BpeVocabulary vocabulary;
  {
    GWO_ASSIGN_OR_RETURN(const Json encoder, ParseJson(encoder_text, encoder_json));
    GWO_RETURN_IF_ERROR(ReadTokens(encoder, encoder_json, "the file", vocabulary.tokens));
  }
  GWO_RETURN_IF_ERROR(ReadMergesText(merges_text, vocab_bpe, vocabulary.merges));
  const uint64_t hash = Fnv1a64Update(Fnv1a64(encoder_text), merges_text);
  return Create(vocabulary, absl::StrCat("gpt2-bpe:", Hex64(hash)),
                absl::StrCat(encoder_json, " + ", vocab_bpe));
}

absl::StatusOr<std::unique_ptr<BpeTokenizer>> BpeTokenizer::FromHfTokenizerJson(const std::string& path) {
  GWO_ASSIGN_OR_RETURN(const std::string text, ReadFileUpTo(path, -1));
  return FromHfTokenizerJsonText(text, path);
}

absl::StatusOr<std::unique_ptr<BpeTokenizer>> BpeTokenizer::FromHfTokenizerJsonText(const std::string& text,
                                                                                     const std::string& path) {
  BpeVocabulary vocabulary;
  {
    GWO_ASSIGN_OR_RETURN(const Json j, ParseJson(text, path));
    try {
      GWO_RETURN_IF_ERROR(ReadHfTokenizer(j, path, vocabulary));
    } catch (const Json::exception& e) {  // a value of an unexpected type
      return absl::InvalidArgumentError(absl::StrCat(path, ": ", e.what()));
    }
  }
  return Create(vocabulary, absl::StrCat("hf-bpe:", Hex64(Fnv1a64(text))), path);
}

}  // namespace gwo::data
