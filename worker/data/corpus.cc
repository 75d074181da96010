#include "worker/data/corpus.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "worker/data/fnv1a.h"
#include "worker/data/recipes.h"

namespace gwo::data {
namespace {

// FNV-1a's high bits hardly depend on the last bytes ("a.jsonl:1" .. "a.jsonl:9" share
// them), so the split hash goes through SplitMix64's finalizer, which makes every
// input bit reach the top 53 bits used below.
uint64_t SplitHash(std::string_view id) {
  uint64_t z = Fnv1a64(id);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

double UnitInterval(uint64_t hash) { return static_cast<double>(hash >> 11) * 0x1.0p-53; }

}  // namespace

bool IsValidationDocument(std::string_view id, double val_fraction) {
  return UnitInterval(SplitHash(id)) < val_fraction;
}

std::vector<bool> SplitByDocument(const std::vector<Document>& documents, double val_fraction) {
  std::vector<bool> is_val(documents.size());
  std::vector<uint64_t> hash(documents.size());
  for (size_t i = 0; i < documents.size(); ++i) {
    hash[i] = SplitHash(documents[i].id);
    is_val[i] = UnitInterval(hash[i]) < val_fraction;
  }
  if (documents.size() < 2) return is_val;
  // Guarantee one document on each side, chosen by hash so the choice is stable.
  if (std::none_of(is_val.begin(), is_val.end(), [](bool v) { return v; })) {
    is_val[std::min_element(hash.begin(), hash.end()) - hash.begin()] = true;
  }
  if (std::all_of(is_val.begin(), is_val.end(), [](bool v) { return v; })) {
    is_val[std::max_element(hash.begin(), hash.end()) - hash.begin()] = false;
  }
  return is_val;
}

absl::StatusOr<Corpus> TokenizeDocuments(const spec::DataSpec& data, const DocumentSet& documents,
                                         const Tokenizer& tokenizer) {
  const std::vector<Document>& docs = documents.documents;
  if (docs.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("corpus '", data.name, "' (", data.path, ") is empty: no bytes to train on"));
  }
  Corpus corpus;
  corpus.vocab_size = tokenizer.vocab_size();
  corpus.bytes = documents.bytes;
  if (docs.size() == 1) {
    const std::string_view text = docs[0].text;
    const auto cut = static_cast<size_t>(static_cast<double>(text.size()) * (1.0 - data.val_fraction));
    tokenizer.EncodeAppend(text.substr(0, cut), corpus.train);
    tokenizer.EncodeAppend(text.substr(cut), corpus.val);
    corpus.train_docs = corpus.val_docs = {docs[0].id};
    return corpus;
  }
  const std::vector<bool> is_val = SplitByDocument(docs, data.val_fraction);
  const std::optional<int32_t> eot = tokenizer.end_of_text();
  // A byte-level tokenizer makes at most one token per byte: reserving that bound up
  // front keeps appends linear even for a tokenizer that reserves exactly what each
  // call adds (which would reallocate the whole split once per document).
  size_t bound[2] = {0, 0};
  for (size_t i = 0; i < docs.size(); ++i) bound[is_val[i]] += docs[i].text.size() + 1;
  corpus.train.reserve(bound[0]);
  corpus.val.reserve(bound[1]);
  for (size_t i = 0; i < docs.size(); ++i) {
    std::vector<std::string>& names = is_val[i] ? corpus.val_docs : corpus.train_docs;
    std::vector<int32_t>& tokens = is_val[i] ? corpus.val : corpus.train;
    if (eot.has_value() && !names.empty()) tokens.push_back(*eot);
    tokenizer.EncodeAppend(docs[i].text, tokens);
    names.push_back(docs[i].id);
  }
  corpus.train.shrink_to_fit();  // BPE makes ~4x fewer tokens than the bound
  corpus.val.shrink_to_fit();
  return corpus;
}

absl::Status CheckSplitSizes(const spec::DataSpec& data, int64_t train_tokens, int64_t val_tokens,
                             int block_size) {
  for (const auto& [split, tokens] : {std::pair<const char*, int64_t>{"training", train_tokens},
                                      std::pair<const char*, int64_t>{"validation", val_tokens}}) {
    if (tokens >= static_cast<int64_t>(block_size) + 1) continue;
    return absl::InvalidArgumentError(
        absl::StrCat("the ", split, " split of corpus '", data.name, "' (", data.path, ") has ",
                     tokens, " tokens, fewer than block_size + 1 = ", block_size + 1,
                     "; use more data (max_bytes, glob) or a different val_fraction"));
  }
  return absl::OkStatus();
}

absl::StatusOr<spec::DataSpec> ResolveForLoading(const spec::DataSpec& data) {
  if (data.recipe.empty() || !data.path.empty()) return data;
  return ResolveRecipe(data, spec::CorporaDir());
}

absl::StatusOr<Corpus> LoadCorpus(const spec::DataSpec& spec_data, const Tokenizer& tokenizer,
                                  int block_size) {
  absl::StatusOr<spec::DataSpec> data = ResolveForLoading(spec_data);
  if (!data.ok()) return data.status();
  absl::StatusOr<DocumentSet> documents = ReadDocuments(*data);
  if (!documents.ok()) return documents.status();
  absl::StatusOr<Corpus> corpus = TokenizeDocuments(*data, *documents, tokenizer);
  if (!corpus.ok()) return corpus.status();
  if (absl::Status s = CheckSplitSizes(*data, static_cast<int64_t>(corpus->train.size()),
                                       static_cast<int64_t>(corpus->val.size()), block_size);
      !s.ok()) {
    return s;
  }
  return corpus;
}

absl::StatusOr<Corpus> LoadCorpus(const spec::DataSpec& data, int block_size) {
  if (data.tokenizer != "byte") {
    return absl::InvalidArgumentError(absl::StrCat(
        "tokenizer '", data.tokenizer, "' is not supported by gwo-train (known: byte)"));
  }
  absl::StatusOr<std::unique_ptr<Tokenizer>> bytes = LoadTokenizer("byte", "");
  if (!bytes.ok()) return bytes.status();
  return LoadCorpus(data, **bytes, block_size);
}

absl::StatusOr<LabelledExamples> LoadLabelledExamples(const spec::DataSpec& spec_data) {
  absl::StatusOr<spec::DataSpec> data = ResolveForLoading(spec_data);
  if (!data.ok()) return data.status();
  if (data->format != "labelled_jsonl") {
    return absl::InvalidArgumentError(absl::StrCat("corpus '", data->name, "' has format '",
                                                   data->format,
                                                   "'; labelled examples need labelled_jsonl"));
  }
  absl::StatusOr<DocumentSet> documents = ReadDocuments(*data);
  if (!documents.ok()) return documents.status();
  std::vector<Document>& docs = documents->documents;
  if (docs.size() < 2) {
    return absl::InvalidArgumentError(absl::StrCat("corpus '", data->name, "' (", data->path,
                                                   ") has ", docs.size(),
                                                   " labelled examples; a split needs 2 or more"));
  }
  const std::vector<bool> is_val = SplitByDocument(docs, data->val_fraction);
  LabelledExamples examples;
  for (size_t i = 0; i < docs.size(); ++i) {
    (is_val[i] ? examples.val : examples.train)
        .push_back({std::move(docs[i].id), std::move(docs[i].text), std::move(docs[i].label)});
  }
  return examples;
}

}  // namespace gwo::data
