// Byte-level BPE as in GPT-2 (and HF tokenizers' ByteLevel BPE models, e.g. Qwen2/3):
// text is split by a pre-tokenization pattern, each piece's bytes become one symbol
// per byte, and merges are applied by rank. Ids equal those of GPT-2's encoder.py,
// tiktoken and HF tokenizers for the same vocabulary.
#ifndef GWO_WORKER_DATA_BPE_TOKENIZER_H_
#define GWO_WORKER_DATA_BPE_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "worker/data/bpe_merge.h"
#include "worker/data/piece_hash.h"
#include "worker/data/pretokenize.h"
#include "worker/data/tokenizer.h"

namespace gwo::data {

// A vocabulary as the files state it. Tokens are in GPT-2's byte-to-unicode alphabet
// (byte 0x20 is "Ġ", 0x0A is "Ċ", printable ASCII is itself).
struct BpeVocabulary {
  std::vector<std::pair<std::string, int32_t>> tokens;
  std::vector<std::pair<std::string, std::string>> merges;  // in rank order
  // Added/special tokens (e.g. "<|endoftext|>", "<|im_start|>"): never produced by
  // Encode (special text is encoded as ordinary text), decoded verbatim.
  std::vector<std::pair<std::string, int32_t>> added_tokens;
  PretokenizePattern pattern = PretokenizePattern::kGpt2;
  bool nfc = false;            // normalize text to Unicode NFC first (Qwen2)
  bool ignore_merges = false;  // a piece that is a token is that token (HF ignore_merges)
};

class BpeTokenizer final : public Tokenizer {
 public:
  // GPT-2's files: encoder.json (token -> id) and vocab.bpe ("#version" line, then one
  // merge "left right" per line). NOT_FOUND for a missing file; INVALID_ARGUMENT,
  // naming the file, for malformed content or merges that refer to unknown tokens.
  static absl::StatusOr<std::unique_ptr<BpeTokenizer>> FromGpt2Files(const std::string& encoder_json,
                                                                     const std::string& vocab_bpe);
  // An HF tokenizer.json with a BPE model and byte-level pre-tokenization: either
  // ByteLevel(use_regex) with GPT-2's pattern, or Sequence[Split(pattern), ByteLevel]
  // with GPT-2's or Qwen2's pattern; normalizer none or NFC. Anything else is
  // INVALID_ARGUMENT naming the file and the unsupported part. added_tokens become
  // special ids; post_processor and decoder are not used (Encode adds no BOS/EOS).
  static absl::StatusOr<std::unique_ptr<BpeTokenizer>> FromHfTokenizerJson(const std::string& path);
  // The same from the file's text; `source` names it in errors.
  static absl::StatusOr<std::unique_ptr<BpeTokenizer>> FromHfTokenizerJsonText(const std::string& text,
                                                                               const std::string& source);
  // From a vocabulary already read; `source` names it in errors.
  static absl::StatusOr<std::unique_ptr<BpeTokenizer>> Create(const BpeVocabulary& vocabulary,
                                                              std::string fingerprint,
                                                              const std::string& source);

  int vocab_size() const override { return vocab_size_; }
  // Thread-safe. Each thread keeps a cache of piece -> ids for the tokenizer it last
  // used (bounded; cleared when full or when the thread switches tokenizers).
  void EncodeAppend(std::string_view text, std::vector<int32_t>& out) const override;
  // Ids outside the vocabulary decode to nothing. Lossless for every byte string,
  // except that a vocabulary with `nfc` returns the NFC form of the text.
  std::string Decode(std::span<const int32_t> ids) const override;
  std::optional<int32_t> end_of_text() const override { return end_of_text_; }
  std::string fingerprint() const override { return fingerprint_; }

  // The id of a token given in byte-level form ("Ġthe"), if it exists. For tests.
  std::optional<int32_t> TokenId(const std::string& token) const;

 private:
  struct WordCache;
  BpeTokenizer() = default;
  WordCache& ThreadCache() const;
  void EncodePiece(std::string_view piece, WordCache& cache, std::vector<int32_t>& out) const;

  uint64_t instance_ = 0;  // unique per object, keys the per-thread caches
  int vocab_size_ = 0;
  int32_t byte_ids_[256] = {};
  MergeTable merges_;
  PretokenizePattern pattern_ = PretokenizePattern::kGpt2;
  bool nfc_ = false;
  absl::flat_hash_map<std::string, int32_t> token_ids_;  // byte-level form -> id
  PieceMap<int32_t> whole_pieces_;                       // raw bytes -> id, for pieces that are one token
  std::string decoded_;                                  // bytes of every id, concatenated
  std::vector<uint32_t> decoded_offsets_;                // id -> [offsets[id], offsets[id + 1]) in decoded_
  std::optional<int32_t> end_of_text_;
  std::string fingerprint_;
};

}  // namespace gwo::data

#endif  // GWO_WORKER_DATA_BPE_TOKENIZER_H_
