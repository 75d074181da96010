// The tokenizer interface gwo-train and the data pipeline use, and the one factory
// that turns a DataSpec's `tokenizer:` into an instance.
#ifndef GWO_WORKER_DATA_TOKENIZER_H_
#define GWO_WORKER_DATA_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace gwo::data {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // Ids are in [0, vocab_size()).
  virtual int vocab_size() const = 0;
  // Appends the ids of `text` to `out`. Special-token text (e.g. "<|endoftext|>") is
  // encoded as ordinary text; use end_of_text() to insert the special id.
  virtual void EncodeAppend(std::string_view text, std::vector<int32_t>& out) const = 0;
  std::vector<int32_t> Encode(std::string_view text) const {
    std::vector<int32_t> out;
    EncodeAppend(text, out);
    return out;
  }
  // Inverse of Encode for every text (byte-level tokenizers are lossless).
  virtual std::string Decode(std::span<const int32_t> ids) const = 0;
  // The id that separates documents ("<|endoftext|>"), if the vocabulary has one.
  virtual std::optional<int32_t> end_of_text() const = 0;
  // A stable description of the vocabulary (name + content hash), part of the
  // tokenized cache's key.
  virtual std::string fingerprint() const = 0;
};

// `name`: "byte"; "gpt2" (encoder.json + vocab.bpe under <corpora_dir>/gpt2); or a
// path: a tokenizer.json (HF, BPE model with byte-level pre-tokenization) or a
// directory holding encoder.json + vocab.bpe (or tokenizer.json).
// NOT_FOUND / INVALID_ARGUMENT with the file and what is wrong.
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(const std::string& name,
                                                         const std::string& corpora_dir);

}  // namespace gwo::data

#endif  // GWO_WORKER_DATA_TOKENIZER_H_
