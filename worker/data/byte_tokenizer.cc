#include "worker/data/byte_tokenizer.h"

namespace gwo::data {

std::vector<int32_t> ByteTokenizer::Encode(std::string_view text) const {
  std::vector<int32_t> ids;
  EncodeAppend(text, ids);
  return ids;
}

void ByteTokenizer::EncodeAppend(std::string_view text, std::vector<int32_t>& out) const {
  out.reserve(out.size() + text.size());
  for (const char c : text) out.push_back(static_cast<unsigned char>(c));
}

std::string ByteTokenizer::Decode(std::span<const int32_t> ids) const {
  std::string text;
  text.reserve(ids.size());
  for (const int32_t id : ids) text.push_back(static_cast<char>(static_cast<uint8_t>(id & 0xff)));
  return text;
}

}  // namespace gwo::data
