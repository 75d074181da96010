#include "worker/data/bpe_tokenizer.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/worker/data/tokenizer_fixtures.h"

namespace gwo::data {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// The vocabulary of tests/fixtures/tokenizers (make_fixtures.py): GPT-2's 256 byte
// tokens (a = 64, Ġ = 220, Ċ = 198), merges from 256 on, <|endoftext|> = 281.
constexpr int32_t kA = 64, kB = 65, kC = 66, kE = 68, kF = 69, kT = 83, kSpace = 220, kNewline = 198;
constexpr int32_t kHe = 257, kSpaceThe = 258, kIn = 259, kSpaceIs = 265, kApostropheS = 267, k12 = 270,
                  kNewlines = 272, kBc = 273, kAbc = 275, kEAcute = 276, kEndOfText = 281;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// A fresh directory under the test's temporary directory.
std::string TempDir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/bpe_tokenizer_test_" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

// `text` with `from` replaced by `to` (which must occur).
std::string Replace(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

std::unique_ptr<BpeTokenizer> TinyGpt2() {
  auto t = BpeTokenizer::FromGpt2Files(TokenizerFixture("tiny_gpt2/encoder.json"),
                                       TokenizerFixture("tiny_gpt2/vocab.bpe"));
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? std::move(t).value() : nullptr;
}

std::unique_ptr<BpeTokenizer> Hf(const std::string& file) {
  auto t = BpeTokenizer::FromHfTokenizerJson(TokenizerFixture(file));
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? std::move(t).value() : nullptr;
}

// Texts every byte-level tokenizer must round-trip.
std::vector<std::string> RoundTripTexts() {
  std::string all_bytes;
  for (int b = 0; b < 256; ++b) all_bytes.push_back(static_cast<char>(b));
  return {
      "",
      "The quick brown fox jumps over the lazy dog. 1234567890 !@#$%^&*()",
      "naïve café, Ünïcödé; 世界你好; こんにちは; 안녕하세요; Привет; مرحبا",
      "emoji 🙂🎉 family 👨‍👩‍👧 flag 🇫🇷",
      "combining e\xcc\x81 a\xcc\x8a\xcc\x81 \xcc\x81\xcc\x81 alone",
      "spaces  \t\t  \n\n\n   \r\n\r\n \xc2\xa0\xe3\x80\x80 end   ",
      "I'm you're he's we've they'll she'd don't 'S 'RE IT'S ''s",
      "def f(x):\n    return x ** 2  # square\n\n\nclass A:\n\tpass\n",
      all_bytes,
      "invalid \xff\xfe \xc0\xaf \xed\xa0\x80 \xe4\xb8 truncated",
      std::string(10000, 'a') + " " + std::string(5000, ' ') + std::string(3000, '!'),
  };
}

TEST(BpeTokenizer, Gpt2FilesGiveKnownIds) {
  const auto t = TinyGpt2();
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->vocab_size(), 282);
  EXPECT_THAT(t->Encode("the cat is in the barn"), ElementsAre(kT, kHe, kSpace, kC, kA, kT, kSpaceIs, kSpace,
                                                               kIn, kSpaceThe, kSpace, kB, kA, 81, 77));
  EXPECT_THAT(t->Encode("caf\xc3\xa9"), ElementsAre(kC, kA, kF, kEAcute));
  EXPECT_THAT(t->Encode("123 12"), ElementsAre(k12, 18, kSpace, k12));
  EXPECT_THAT(t->Encode("he's"), ElementsAre(kHe, kApostropheS));
  EXPECT_THAT(t->Encode("He'S  12\n\n\nthe"),
              ElementsAre(39, kE, 6, 50, kSpace, kSpace, k12, kNewlines, kNewline, kT, kHe));
  // GPT-2 does not normalize: a decomposed é stays two code points.
  EXPECT_THAT(t->Encode("cafe\xcc\x81"), ElementsAre(kC, kA, kF, kE, 136, 223));
}

TEST(BpeTokenizer, TokenThatMergesDoNotReachIsNotUsed) {
  // "abc" is a token, but "b c" outranks "a b", and "a bc" is not a merge.
  const auto t = TinyGpt2();
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->TokenId("abc"), kAbc);
  EXPECT_THAT(t->Encode("abc"), ElementsAre(kA, kBc));
}

TEST(BpeTokenizer, EndOfTextIsSpecialAndItsTextIsOrdinary) {
  const auto t = TinyGpt2();
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->end_of_text(), kEndOfText);
  EXPECT_EQ(t->Decode(std::vector<int32_t>{kT, kHe, kEndOfText}), "the<|endoftext|>");
  EXPECT_THAT(t->Encode("<|endoftext|>"), Not(testing::Contains(kEndOfText)));
}

TEST(BpeTokenizer, DecodeInvertsEncode) {
  const auto gpt2 = TinyGpt2();
  const auto hf = Hf("gpt2_style.tokenizer.json");
  const auto qwen = Hf("qwen_style.tokenizer.json");
  ASSERT_NE(gpt2, nullptr);
  ASSERT_NE(hf, nullptr);
  ASSERT_NE(qwen, nullptr);
  for (const std::string& text : RoundTripTexts()) {
    EXPECT_EQ(gpt2->Decode(gpt2->Encode(text)), text) << text.substr(0, 80);
    EXPECT_EQ(hf->Decode(hf->Encode(text)), text) << text.substr(0, 80);
    if (text.find("\xcc") == std::string::npos && text.find("\xff") == std::string::npos) {  // NFC-stable
      EXPECT_EQ(qwen->Decode(qwen->Encode(text)), text) << text.substr(0, 80);
    }
  }
}

TEST(BpeTokenizer, IdsOutsideTheVocabularyDecodeToNothing) {
  const auto t = TinyGpt2();
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->Decode(std::vector<int32_t>{kA, -1, 282, 1 << 30, kB}), "ab");
}

TEST(BpeTokenizer, HfGpt2StyleFileMatchesGpt2Files) {
  const auto files = TinyGpt2();
  const auto hf = Hf("gpt2_style.tokenizer.json");
  ASSERT_NE(files, nullptr);
  ASSERT_NE(hf, nullptr);
  for (const std::string& text : RoundTripTexts()) EXPECT_EQ(hf->Encode(text), files->Encode(text));
  EXPECT_EQ(hf->end_of_text(), kEndOfText);
  EXPECT_EQ(hf->vocab_size(), files->vocab_size());
  EXPECT_THAT(files->fingerprint(), StartsWith("gpt2-bpe:"));
  EXPECT_THAT(hf->fingerprint(), StartsWith("hf-bpe:"));
}

TEST(BpeTokenizer, QwenStyleFileUsesQwenPatternNfcAndAddedTokens) {
  const auto t = Hf("qwen_style.tokenizer.json");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->vocab_size(), 284);
  EXPECT_EQ(t->end_of_text(), kEndOfText);
  // Digits one at a time; newline runs kept whole.
  EXPECT_THAT(t->Encode("123 12"), ElementsAre(16, 17, 18, kSpace, 16, 17));
  EXPECT_THAT(t->Encode("He'S  12\n\n\nthe"),
              ElementsAre(39, kE, 6, 50, kSpace, kSpace, 16, 17, kNewlines, kNewline, kT, kHe));
  // NFC: a decomposed é encodes as the composed one.
  EXPECT_EQ(t->Encode("cafe\xcc\x81"), t->Encode("caf\xc3\xa9"));
  EXPECT_THAT(t->Encode("caf\xc3\xa9"), ElementsAre(kC, kA, kF, kEAcute));
  EXPECT_EQ(t->Decode(std::vector<int32_t>{282, kT, kHe, 283}), "<|im_start|>the<|im_end|>");
}

TEST(BpeTokenizer, ThreadsEncodingAtOnceGetTheSameIds) {
  const auto t = TinyGpt2();
  ASSERT_NE(t, nullptr);
  std::string text;
  for (const std::string& s : RoundTripTexts()) text += s;
  const std::vector<int32_t> expected = t->Encode(text);
  std::vector<std::vector<int32_t>> got(4);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      for (int r = 0; r < 5; ++r) got[i] = t->Encode(text);
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const auto& ids : got) EXPECT_EQ(ids, expected);
}

TEST(BpeTokenizer, AlternatingTokenizersInOneThreadKeepTheirOwnIds) {
  const auto gpt2 = TinyGpt2();
  const auto qwen = Hf("qwen_style.tokenizer.json");
  ASSERT_NE(gpt2, nullptr);
  ASSERT_NE(qwen, nullptr);
  for (int r = 0; r < 3; ++r) {
    EXPECT_THAT(gpt2->Encode("123 12"), ElementsAre(k12, 18, kSpace, k12));
    EXPECT_THAT(qwen->Encode("123 12"), ElementsAre(16, 17, 18, kSpace, 16, 17));
  }
}

TEST(BpeTokenizerErrors, MissingFileIsNotFoundNamingIt) {
  const auto t =
      BpeTokenizer::FromGpt2Files("/nonexistent/encoder.json", TokenizerFixture("tiny_gpt2/vocab.bpe"));
  EXPECT_EQ(t.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("/nonexistent/encoder.json"));
  const auto hf = BpeTokenizer::FromHfTokenizerJson("/nonexistent/tokenizer.json");
  EXPECT_EQ(hf.status().code(), absl::StatusCode::kNotFound);
}

TEST(BpeTokenizerErrors, BadJsonIsInvalidArgumentNamingTheFile) {
  const std::string dir = TempDir("bad_json");
  WriteFile(dir + "/encoder.json", "{\"a\": 1,");
  WriteFile(dir + "/tokenizer.json", "[1, 2");
  const auto t = BpeTokenizer::FromGpt2Files(dir + "/encoder.json", TokenizerFixture("tiny_gpt2/vocab.bpe"));
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(t.status().message()), HasSubstr(dir + "/encoder.json: invalid JSON"));
  const auto hf = BpeTokenizer::FromHfTokenizerJson(dir + "/tokenizer.json");
  EXPECT_EQ(hf.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(hf.status().message()), HasSubstr(dir + "/tokenizer.json: invalid JSON"));
  WriteFile(dir + "/encoder.json", "{\"a\": \"one\"}");
  EXPECT_THAT(
      std::string(BpeTokenizer::FromGpt2Files(dir + "/encoder.json", TokenizerFixture("tiny_gpt2/vocab.bpe"))
                      .status()
                      .message()),
      HasSubstr("the id of token \"a\" is not an integer"));
}

TEST(BpeTokenizerErrors, MergeOfUnknownSymbolsIsInvalidArgument) {
  const std::string dir = TempDir("unknown_merge");
  WriteFile(dir + "/vocab.bpe", ReadFile(TokenizerFixture("tiny_gpt2/vocab.bpe")) + "zz q\n");
  const auto t = BpeTokenizer::FromGpt2Files(TokenizerFixture("tiny_gpt2/encoder.json"), dir + "/vocab.bpe");
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("merge 26 \"zz q\" refers to \"zz\""));
  EXPECT_THAT(std::string(t.status().message()), HasSubstr(dir + "/vocab.bpe"));

  WriteFile(dir + "/vocab.bpe", "#version: 0.2\nĠ t\nnot-a-merge\n");
  const auto bad_line =
      BpeTokenizer::FromGpt2Files(TokenizerFixture("tiny_gpt2/encoder.json"), dir + "/vocab.bpe");
  EXPECT_EQ(bad_line.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad_line.status().message()), HasSubstr(dir + "/vocab.bpe:3: expected a merge"));
}

TEST(BpeTokenizerErrors, VocabularyWithoutAllBytesIsRefused) {
  const std::string dir = TempDir("missing_byte");
  WriteFile(dir + "/encoder.json",
            Replace(ReadFile(TokenizerFixture("tiny_gpt2/encoder.json")), "\"a\": 64", "\"zz\": 64"));
  const auto t = BpeTokenizer::FromGpt2Files(dir + "/encoder.json", TokenizerFixture("tiny_gpt2/vocab.bpe"));
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("no token \"a\" for byte 97"));
}

TEST(BpeTokenizerErrors, UnsupportedTokenizerJsonIsInvalidArgumentNamingWhat) {
  const std::string qwen = ReadFile(TokenizerFixture("qwen_style.tokenizer.json"));
  const std::string gpt2 = ReadFile(TokenizerFixture("gpt2_style.tokenizer.json"));
  const struct {
    std::string json;
    std::string message;
  } cases[] = {
      {Replace(qwen, "\"type\": \"NFC\"", "\"type\": \"Lowercase\""),
       "normalizer Lowercase is not supported"},
      {Replace(qwen, "(?i:'s|'t|'re|'ve|'m|'ll|'d)|", ""), "Split pattern"},
      {Replace(qwen, "\"behavior\": \"Isolated\"", "\"behavior\": \"Removed\""), "only behavior Isolated"},
      {Replace(gpt2, "\"pre_tokenizer\": {\n\"type\": \"ByteLevel\"",
               "\"pre_tokenizer\": {\n\"type\": \"Whitespace\""),
       "pre_tokenizer"},
      {Replace(gpt2, "\"add_prefix_space\": false", "\"add_prefix_space\": true"), "add_prefix_space=true"},
      {Replace(gpt2, "\"use_regex\": true", "\"use_regex\": false"), "use_regex=false"},
      {Replace(gpt2, "\"type\": \"BPE\"", "\"type\": \"WordPiece\""),
       "model type WordPiece is not supported"},
      {Replace(gpt2, "\"end_of_word_suffix\": \"\"", "\"end_of_word_suffix\": \"</w>\""),
       "end_of_word_suffix"},
      {Replace(gpt2, "\"merges\": [", "\"merges\": [\n7,"), "model.merges[0] is not"},
      {Replace(gpt2, "\"dropout\": null", "\"dropout\": \"high\""), "BPE dropout"},
      {Replace(gpt2, "\"byte_fallback\": false", "\"byte_fallback\": 3"), "byte_fallback"},
  };
  const std::string dir = TempDir("unsupported");
  for (const auto& c : cases) {
    WriteFile(dir + "/tokenizer.json", c.json);
    const auto t = BpeTokenizer::FromHfTokenizerJson(dir + "/tokenizer.json");
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument) << c.message;
    EXPECT_THAT(std::string(t.status().message()), HasSubstr(c.message));
    EXPECT_THAT(std::string(t.status().message()), HasSubstr(dir + "/tokenizer.json"));
  }
}

}  // namespace
}  // namespace gwo::data
