#include "worker/data/pretokenize.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gwo::data {
namespace {

using ::testing::ElementsAreArray;

std::vector<std::string> Pieces(PretokenizePattern pattern, const std::string& text) {
  std::vector<std::string> pieces;
  Pretokenize(pattern, text,
              [&](size_t begin, size_t end) { pieces.push_back(text.substr(begin, end - begin)); });
  return pieces;
}

struct Case {
  std::string text;
  std::vector<std::string> pieces;
};

// Expected pieces: Python's `regex` (2026.5) findall with each pattern.
const std::vector<Case>& Gpt2Cases() {
  static const auto* cases = new std::vector<Case>{
      {"Hello world", {"Hello", " world"}},
      {"I'm sure they'll say we've won, it's theirs'",
       {"I", "'m", " sure", " they", "'ll", " say", " we", "'ve", " won", ",", " it", "'s", " theirs", "'"}},
      {"a  b\n\nc   ", {"a", " ", " b", "\n", "\n", "c", "   "}},
      {" 123abc 4.5%", {" 123", "abc", " 4", ".", "5", "%"}},
      {"x = f(y)  # done!\n\treturn",
       {"x", " =", " f", "(", "y", ")", " ", " #", " done", "!", "\n", "\t", "return"}},
      {"naïve café 世界 🙂 e\xcc\x81 ٣²Ⅻ",
       {"naïve", " café", " 世界", " 🙂", " e", "\xcc\x81", " ٣²Ⅻ"}},
      {"a\xc2\xa0"
       "b\xe3\x80\x80"
       "c\xe2\x80\xa8",
       {"a", "\xc2\xa0", "b", "\xe3\x80\x80", "c", "\xe2\x80\xa8"}},
      {"HE'S 'RE 'Ll don'T it'ſ",
       {"HE", "'", "S", " '", "RE", " '", "Ll", " don", "'", "T", " it", "'", "ſ"}},
      {"(hello) 2024\n\n  x", {"(", "hello", ")", " 2024", "\n\n ", " x"}},
      {"end.\r\n\r\n  next:\n    pass", {"end", ".", "\r\n\r\n ", " next", ":", "\n   ", " pass"}},
      {"\xcc\x81\xcc\x81x  \n", {"\xcc\x81\xcc\x81", "x", "  \n"}},
  };
  return *cases;
}

const std::vector<Case>& Qwen2Cases() {
  static const auto* cases = new std::vector<Case>{
      {"Hello world", {"Hello", " world"}},
      {"I'm sure they'll say we've won, it's theirs'",
       {"I", "'m", " sure", " they", "'ll", " say", " we", "'ve", " won", ",", " it", "'s", " theirs", "'"}},
      {"a  b\n\nc   ", {"a", " ", " b", "\n\n", "c", "   "}},
      {" 123abc 4.5%", {" ", "1", "2", "3", "abc", " ", "4", ".", "5", "%"}},
      {"x = f(y)  # done!\n\treturn", {"x", " =", " f", "(y", ")", " ", " #", " done", "!\n", "\treturn"}},
      {"naïve café 世界 🙂 e\xcc\x81 ٣²Ⅻ",
       {"naïve", " café", " 世界", " 🙂", " e", "\xcc\x81", " ", "٣", "²", "Ⅻ"}},
      {"a\xc2\xa0"
       "b\xe3\x80\x80"
       "c\xe2\x80\xa8",
       {"a",
        "\xc2\xa0"
        "b",
        "\xe3\x80\x80"
        "c",
        "\xe2\x80\xa8"}},
      {"HE'S 'RE 'Ll don'T it'ſ", {"HE", "'S", " '", "RE", " '", "Ll", " don", "'T", " it", "'ſ"}},
      {"(hello) 2024\n\n  x", {"(hello", ")", " ", "2", "0", "2", "4", "\n\n", " ", " x"}},
      {"end.\r\n\r\n  next:\n    pass", {"end", ".\r\n\r\n", " ", " next", ":\n", "   ", " pass"}},
      {"\xcc\x81\xcc\x81x  \n", {"\xcc\x81\xcc\x81", "x", "  \n"}},
  };
  return *cases;
}

TEST(Pretokenize, Gpt2PatternSplitsLikePythonRegex) {
  for (const Case& c : Gpt2Cases()) {
    EXPECT_THAT(Pieces(PretokenizePattern::kGpt2, c.text), ElementsAreArray(c.pieces)) << c.text;
  }
}

TEST(Pretokenize, Qwen2PatternSplitsLikePythonRegex) {
  for (const Case& c : Qwen2Cases()) {
    EXPECT_THAT(Pieces(PretokenizePattern::kQwen2, c.text), ElementsAreArray(c.pieces)) << c.text;
  }
}

TEST(Pretokenize, EmptyTextHasNoPieces) {
  EXPECT_TRUE(Pieces(PretokenizePattern::kGpt2, "").empty());
  EXPECT_TRUE(Pieces(PretokenizePattern::kQwen2, "").empty());
}

TEST(Pretokenize, InvalidUtf8BytesAreSymbolsAndNothingIsLost) {
  // A stray continuation byte, a truncated 3-byte sequence, an overlong "/", a
  // surrogate, and bytes past U+10FFFF: each byte counts as one symbol character.
  const std::string text = "ab\x80\xe4\xb8 c\xc0\xaf\xed\xa0\x80\xf5\x80 d";
  EXPECT_THAT(Pieces(PretokenizePattern::kGpt2, text),
              ElementsAreArray({"ab", "\x80\xe4\xb8", " c", "\xc0\xaf\xed\xa0\x80\xf5\x80", " d"}));
  EXPECT_THAT(Pieces(PretokenizePattern::kQwen2, text),
              ElementsAreArray({"ab", "\x80\xe4\xb8", " c", "\xc0\xaf\xed\xa0\x80\xf5\x80", " d"}));
}

TEST(Pretokenize, PiecesCoverEveryByteStringExactly) {
  uint64_t state = 42;
  for (int round = 0; round < 2000; ++round) {
    std::string text;
    const int length = round % 40;
    for (int i = 0; i < length; ++i) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      // Mostly bytes the patterns care about, sometimes any byte.
      const char interesting[] = " \t\n\r'sSa1.\xc3\xa9\xe4\xb8\x96";
      const auto r = static_cast<uint32_t>(state >> 33);
      text.push_back(r % 4 == 0 ? static_cast<char>(r >> 8) : interesting[r % (sizeof(interesting) - 1)]);
    }
    for (const PretokenizePattern pattern : {PretokenizePattern::kGpt2, PretokenizePattern::kQwen2}) {
      std::string joined;
      for (const std::string& piece : Pieces(pattern, text)) {
        ASSERT_FALSE(piece.empty());
        joined += piece;
      }
      ASSERT_EQ(joined, text);
    }
  }
}

TEST(ClassOf, UsesUnicodeLetterNumberAndWhiteSpaceClasses) {
  EXPECT_EQ(ClassOf(U'a'), CharClass::kLetter);
  EXPECT_EQ(ClassOf(U'\u01c5'), CharClass::kLetter);      // Lt: Dž
  EXPECT_EQ(ClassOf(U'\u02b0'), CharClass::kLetter);      // Lm: ʰ
  EXPECT_EQ(ClassOf(U'\u4e16'), CharClass::kLetter);      // Lo: 世
  EXPECT_EQ(ClassOf(U'\U00010400'), CharClass::kLetter);  // Deseret
  EXPECT_EQ(ClassOf(U'7'), CharClass::kNumber);
  EXPECT_EQ(ClassOf(U'\u216b'), CharClass::kNumber);  // Nl: Ⅻ
  EXPECT_EQ(ClassOf(U'\u00b2'), CharClass::kNumber);  // No: ²
  EXPECT_EQ(ClassOf(U'\n'), CharClass::kNewline);
  EXPECT_EQ(ClassOf(U'\r'), CharClass::kNewline);
  EXPECT_EQ(ClassOf(U'\u0085'), CharClass::kSpace);  // NEL is White_Space, not \r\n
  EXPECT_EQ(ClassOf(U'\u3000'), CharClass::kSpace);
  EXPECT_EQ(ClassOf(U'\x1c'), CharClass::kOther);    // not White_Space (unlike str.isspace)
  EXPECT_EQ(ClassOf(U'\u200b'), CharClass::kOther);  // zero-width space is Cf
  EXPECT_EQ(ClassOf(U'\u0301'), CharClass::kOther);  // combining mark
  EXPECT_EQ(ClassOf(U'\U0001F642'), CharClass::kOther);
}

}  // namespace
}  // namespace gwo::data
