#include "worker/data/tokenizer.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/worker/data/tokenizer_fixtures.h"

namespace gwo::data {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string TempDir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/tokenizer_test_" + name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// A corpora directory whose gpt2/ holds the tiny fixture vocabulary.
std::string CorporaWithTinyGpt2(const std::string& name) {
  const std::string corpora = TempDir(name);
  fs::create_directories(corpora + "/gpt2");
  fs::copy_file(TokenizerFixture("tiny_gpt2/encoder.json"), corpora + "/gpt2/encoder.json");
  fs::copy_file(TokenizerFixture("tiny_gpt2/vocab.bpe"), corpora + "/gpt2/vocab.bpe");
  return corpora;
}

TEST(LoadTokenizer, ByteIsTheByteTokenizer) {
  const auto t = LoadTokenizer("byte", "/nonexistent");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ((*t)->vocab_size(), 256);
  EXPECT_THAT((*t)->Encode("a\xff"), ElementsAre(97, 255));
  EXPECT_EQ((*t)->Decode((*t)->Encode("héllo")), "héllo");
  EXPECT_EQ((*t)->end_of_text(), std::nullopt);
  EXPECT_EQ((*t)->fingerprint(), "byte");
}

TEST(LoadTokenizer, Gpt2ReadsTheCorporaDirectory) {
  const std::string corpora = CorporaWithTinyGpt2("gpt2");
  const auto t = LoadTokenizer("gpt2", corpora);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ((*t)->vocab_size(), 282);
  EXPECT_EQ((*t)->end_of_text(), 281);
  EXPECT_THAT((*t)->Encode(" the"), ElementsAre(258));
  EXPECT_THAT((*t)->fingerprint(), StartsWith("gpt2-bpe:"));
  // The same files by path: the same vocabulary, so the same fingerprint.
  const auto by_path = LoadTokenizer(corpora + "/gpt2", "/nonexistent");
  ASSERT_TRUE(by_path.ok()) << by_path.status();
  EXPECT_EQ((*by_path)->fingerprint(), (*t)->fingerprint());
}

TEST(LoadTokenizer, Gpt2WithoutFilesSaysHowToGetThem) {
  const auto t = LoadTokenizer("gpt2", TempDir("no_gpt2"));
  EXPECT_EQ(t.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("deploy/prepare-corpora.sh"));
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("gpt2/encoder.json"));
}

TEST(LoadTokenizer, TokenizerJsonByFileOrDirectory) {
  const auto file = LoadTokenizer(TokenizerFixture("qwen_style.tokenizer.json"), "");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->vocab_size(), 284);
  EXPECT_THAT((*file)->fingerprint(), StartsWith("hf-bpe:"));
  const std::string dir = TempDir("hf_dir");
  fs::copy_file(TokenizerFixture("qwen_style.tokenizer.json"), dir + "/tokenizer.json");
  const auto by_dir = LoadTokenizer(dir, "");
  ASSERT_TRUE(by_dir.ok()) << by_dir.status();
  EXPECT_EQ((*by_dir)->fingerprint(), (*file)->fingerprint());
}

TEST(LoadTokenizer, FingerprintFollowsTheFilesContent) {
  const std::string a = CorporaWithTinyGpt2("fingerprint_a");
  const std::string b = CorporaWithTinyGpt2("fingerprint_b");
  std::ofstream(b + "/gpt2/vocab.bpe", std::ios::app) << "o w\n";  // a (repeated) merge more
  const auto ta = LoadTokenizer("gpt2", a);
  const auto tb = LoadTokenizer("gpt2", b);
  ASSERT_TRUE(ta.ok()) << ta.status();
  ASSERT_TRUE(tb.ok()) << tb.status();
  EXPECT_NE((*ta)->fingerprint(), (*tb)->fingerprint());
  EXPECT_EQ((*ta)->fingerprint(), (*LoadTokenizer("gpt2", a))->fingerprint());
}

TEST(LoadTokenizer, UnknownNamesAndEmptyDirectoriesAreNotFound) {
  const auto missing = LoadTokenizer("/nonexistent/tokenizer.json", "");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("/nonexistent/tokenizer.json"));
  const std::string empty = TempDir("empty");
  const auto in_empty = LoadTokenizer(empty, "");
  EXPECT_EQ(in_empty.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(in_empty.status().message()),
              HasSubstr("neither encoder.json + vocab.bpe nor tokenizer.json"));
  EXPECT_EQ(LoadTokenizer("", "").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace gwo::data
