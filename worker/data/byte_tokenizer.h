// The byte tokenizer: each byte of the text is one token, ids 0..255.
#ifndef GWO_WORKER_DATA_BYTE_TOKENIZER_H_
#define GWO_WORKER_DATA_BYTE_TOKENIZER_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace gwo::data {

class ByteTokenizer {
 public:
  // Number of distinct ids Encode produces.
  static constexpr int kVocabSize = 256;
  int vocab_size() const { return kVocabSize; }

  // One id per byte, in order: id = (unsigned char) byte. Never fails.
  std::vector<int32_t> Encode(std::string_view text) const;

  // Appends the ids of `text` to `out`.
  void EncodeAppend(std::string_view text, std::vector<int32_t>& out) const;

  // Inverse of Encode: Decode(Encode(s)) == s for every s. Ids outside 0..255 are
  // taken modulo 256 (callers that must reject them check first).
  std::string Decode(std::span<const int32_t> ids) const;
};

}  // namespace gwo::data

#endif  // GWO_WORKER_DATA_BYTE_TOKENIZER_H_
