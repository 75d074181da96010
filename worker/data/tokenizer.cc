#include "worker/data/tokenizer.h"

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "worker/data/bpe_tokenizer.h"
#include "worker/data/byte_tokenizer.h"

namespace gwo::data {
namespace {

class ByteTokenizerAdapter final : public Tokenizer {
 public:
  int vocab_size() const override { return ByteTokenizer::kVocabSize; }
  void EncodeAppend(std::string_view text, std::vector<int32_t>& out) const override {
    bytes_.EncodeAppend(text, out);
  }
  std::string Decode(std::span<const int32_t> ids) const override { return bytes_.Decode(ids); }
  std::optional<int32_t> end_of_text() const override { return std::nullopt; }
  std::string fingerprint() const override { return "byte"; }

 private:
  ByteTokenizer bytes_;
};

absl::StatusOr<std::unique_ptr<Tokenizer>> Upcast(absl::StatusOr<std::unique_ptr<BpeTokenizer>> t,
                                                  const std::string& context) {
  if (!t.ok()) {
    return absl::Status(t.status().code(), absl::StrCat(context, std::string(t.status().message())));
  }
  return std::unique_ptr<Tokenizer>(std::move(t).value());
}

bool Exists(const std::filesystem::path& p) {
  std::error_code ec;
  return std::filesystem::exists(p, ec);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(const std::string& name,
                                                         const std::string& corpora_dir) {
  namespace fs = std::filesystem;
  if (name == "byte") return std::make_unique<ByteTokenizerAdapter>();
  if (name == "gpt2") {
    const fs::path dir = fs::path(corpora_dir) / "gpt2";
    return Upcast(BpeTokenizer::FromGpt2Files(dir / "encoder.json", dir / "vocab.bpe"),
                  "tokenizer \"gpt2\" (deploy/prepare-corpora.sh installs its files): ");
  }
  if (name.empty()) return absl::InvalidArgumentError("tokenizer: empty name (\"byte\", \"gpt2\" or a path)");
  std::error_code ec;
  const fs::file_status status = fs::status(name, ec);
  if (fs::is_directory(status)) {
    const fs::path dir(name);
    if (Exists(dir / "encoder.json") || Exists(dir / "vocab.bpe")) {
      return Upcast(BpeTokenizer::FromGpt2Files(dir / "encoder.json", dir / "vocab.bpe"), "");
    }
    if (Exists(dir / "tokenizer.json")) {
      return Upcast(BpeTokenizer::FromHfTokenizerJson(dir / "tokenizer.json"), "");
    }
    return absl::NotFoundError(absl::StrCat("tokenizer directory '", name,
                                            "' holds neither encoder.json + vocab.bpe nor tokenizer.json"));
  }
  if (fs::exists(status)) return Upcast(BpeTokenizer::FromHfTokenizerJson(name), "");
  return absl::NotFoundError(absl::StrCat(
      "tokenizer \"", name, "\": not \"byte\" or \"gpt2\", and no file or directory by that name"));
}

}  // namespace gwo::data
