#include "worker/data/byte_tokenizer.h"

#include <string>

#include "gtest/gtest.h"

namespace gwo::data {
namespace {

TEST(ByteTokenizer, RoundTripsAll256Bytes) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  const ByteTokenizer tokenizer;
  const std::vector<int32_t> ids = tokenizer.Encode(all);
  ASSERT_EQ(ids.size(), 256u);
  for (int b = 0; b < 256; ++b) EXPECT_EQ(ids[b], b);
  EXPECT_EQ(tokenizer.Decode(ids), all);
}

TEST(ByteTokenizer, RoundTripsUtf8TextOneIdPerByte) {
  const std::string text = "héllo, 世界 🙂\n";
  const ByteTokenizer tokenizer;
  const std::vector<int32_t> ids = tokenizer.Encode(text);
  EXPECT_EQ(ids.size(), text.size());
  EXPECT_EQ(ids[1], 0xc3);  // first byte of é
  EXPECT_EQ(tokenizer.Decode(ids), text);
  EXPECT_EQ(tokenizer.vocab_size(), 256);
}

TEST(ByteTokenizer, EmptyTextHasNoTokens) {
  EXPECT_TRUE(ByteTokenizer().Encode("").empty());
  EXPECT_EQ(ByteTokenizer().Decode({}), "");
}

}  // namespace
}  // namespace gwo::data
