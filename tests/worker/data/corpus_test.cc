#include "worker/data/corpus.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/worker/data/fake_tokenizer.h"
#include "tests/worker/test_dir.h"
#include "worker/data/byte_tokenizer.h"

namespace gwo::data {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Writes doc00.txt .. doc{n-1}.txt, each `size` bytes of a letter of its own.
void WriteDocs(const gwo::testing::TestDir& dir, int n, int size) {
  for (int i = 0; i < n; ++i) {
    dir.Write(absl::StrCat("d/doc", i / 10, i % 10, ".txt"),
              std::string(size, static_cast<char>('A' + i)));
  }
}

spec::DataSpec Spec(const std::string& path) {
  spec::DataSpec data;
  data.path = path;
  data.glob = "*.txt";
  data.val_fraction = 0.3;
  return data;
}

TEST(LoadCorpus, SplitIsDeterministicAndByDocument) {
  const gwo::testing::TestDir dir;
  WriteDocs(dir, 20, 50);
  absl::StatusOr<Corpus> a = LoadCorpus(Spec(dir / "d"), /*block_size=*/8);
  absl::StatusOr<Corpus> b = LoadCorpus(Spec(dir / "d"), /*block_size=*/8);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(a->train, b->train);
  EXPECT_EQ(a->val, b->val);
  EXPECT_EQ(a->vocab_size, 256);
  EXPECT_EQ(a->bytes, 20 * 50);
  EXPECT_EQ(a->train_docs.size() + a->val_docs.size(), 20u);
  EXPECT_FALSE(a->val_docs.empty());
  EXPECT_FALSE(a->train_docs.empty());

  // Each side is exactly its documents' bytes, whole, in listing order, as decided
  // by the path hash.
  std::string train_text, val_text;
  for (int i = 0; i < 20; ++i) {
    const std::string name = absl::StrCat("doc", i / 10, i % 10, ".txt");
    const bool val = IsValidationDocument(name, 0.3);
    (val ? val_text : train_text) += std::string(50, static_cast<char>('A' + i));
    EXPECT_EQ(std::count(a->val_docs.begin(), a->val_docs.end(), name), val ? 1 : 0) << name;
  }
  const ByteTokenizer tokenizer;
  EXPECT_EQ(tokenizer.Decode(a->train), train_text);
  EXPECT_EQ(tokenizer.Decode(a->val), val_text);
}

TEST(LoadCorpus, TwoDocumentsAlwaysGiveOneToEachSide) {
  const gwo::testing::TestDir dir;
  WriteDocs(dir, 2, 40);
  for (const double fraction : {1e-9, 0.5, 1.0 - 1e-9}) {
    spec::DataSpec data = Spec(dir / "d");
    data.val_fraction = fraction;
    absl::StatusOr<Corpus> corpus = LoadCorpus(data, 8);
    ASSERT_TRUE(corpus.ok()) << corpus.status();
    EXPECT_EQ(corpus->train_docs.size(), 1u) << fraction;
    EXPECT_EQ(corpus->val_docs.size(), 1u) << fraction;
  }
}

TEST(LoadCorpus, MaxBytesCutsTheLastFile) {
  const gwo::testing::TestDir dir;
  WriteDocs(dir, 20, 50);
  spec::DataSpec data = Spec(dir / "d");
  data.max_bytes = 125;  // docs 0 and 1 whole, 25 bytes of doc 2
  absl::StatusOr<Corpus> corpus = LoadCorpus(data, 4);
  ASSERT_TRUE(corpus.ok()) << corpus.status();
  EXPECT_EQ(corpus->bytes, 125);
  EXPECT_EQ(corpus->train.size() + corpus->val.size(), 125u);
  EXPECT_EQ(corpus->train_docs.size() + corpus->val_docs.size(), 3u);
}

TEST(LoadCorpus, SingleFileSplitsItsBytes) {
  const gwo::testing::TestDir dir;
  const std::string file = dir.Write("one.txt", std::string(80, 'a') + std::string(20, 'b'));
  spec::DataSpec data = Spec(file);
  data.val_fraction = 0.2;
  absl::StatusOr<Corpus> corpus = LoadCorpus(data, 8);
  ASSERT_TRUE(corpus.ok()) << corpus.status();
  const ByteTokenizer tokenizer;
  EXPECT_EQ(tokenizer.Decode(corpus->train), std::string(80, 'a'));
  EXPECT_EQ(tokenizer.Decode(corpus->val), std::string(20, 'b'));
  EXPECT_THAT(corpus->train_docs, ElementsAre("one.txt"));
}

TEST(LoadCorpus, EmptyCorpusIsInvalidArgument) {
  const gwo::testing::TestDir dir;
  dir.Write("d/a.txt", "");
  dir.Write("d/b.txt", "");
  absl::StatusOr<Corpus> corpus = LoadCorpus(Spec(dir / "d"), 8);
  EXPECT_EQ(corpus.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(corpus.status().message(), HasSubstr("empty"));
}

TEST(LoadCorpus, SplitShorterThanOneWindowIsInvalidArgument) {
  const gwo::testing::TestDir dir;
  WriteDocs(dir, 2, 40);
  absl::StatusOr<Corpus> corpus = LoadCorpus(Spec(dir / "d"), /*block_size=*/64);
  EXPECT_EQ(corpus.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(corpus.status().message(), HasSubstr("block_size + 1 = 65"));
}

TEST(LoadCorpus, UnknownTokenizerIsInvalidArgument) {
  const gwo::testing::TestDir dir;
  WriteDocs(dir, 2, 40);
  spec::DataSpec data = Spec(dir / "d");
  data.tokenizer = "gpt2-bpe";
  absl::StatusOr<Corpus> corpus = LoadCorpus(data, 8);
  EXPECT_EQ(corpus.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(corpus.status().message(), HasSubstr("gpt2-bpe"));
}

TEST(LoadCorpus, EndOfTextSeparatesDocumentsWithinEachSplit) {
  const gwo::testing::TestDir dir;
  WriteDocs(dir, 20, 5);
  const gwo::testing::FakeEotTokenizer tokenizer;
  absl::StatusOr<Corpus> corpus = LoadCorpus(Spec(dir / "d"), tokenizer, /*block_size=*/4);
  ASSERT_TRUE(corpus.ok()) << corpus.status();
  EXPECT_EQ(corpus->vocab_size, 257);
  std::string train_text, val_text;
  for (int i = 0; i < 20; ++i) {
    const bool val = IsValidationDocument(absl::StrCat("doc", i / 10, i % 10, ".txt"), 0.3);
    std::string& side = val ? val_text : train_text;
    if (!side.empty()) side += "<|endoftext|>";
    side += std::string(5, static_cast<char>('A' + i));
  }
  EXPECT_EQ(tokenizer.Decode(corpus->train), train_text);
  EXPECT_EQ(tokenizer.Decode(corpus->val), val_text);
  EXPECT_EQ(corpus->bytes, 100);  // separators are not corpus bytes
}

TEST(LoadCorpus, JsonlIsSplitByLineWithSeparators) {
  const gwo::testing::TestDir dir;
  std::string lines;
  for (int i = 0; i < 30; ++i) absl::StrAppend(&lines, "{\"text\": \"line ", i, "\"}\n");
  spec::DataSpec data;
  data.path = dir.Write("c.jsonl", lines);
  data.format = "jsonl";
  data.val_fraction = 0.3;
  const gwo::testing::FakeEotTokenizer tokenizer;
  absl::StatusOr<Corpus> corpus = LoadCorpus(data, tokenizer, 2);
  ASSERT_TRUE(corpus.ok()) << corpus.status();
  EXPECT_EQ(corpus->train_docs.size() + corpus->val_docs.size(), 30u);
  for (const std::string& id : corpus->val_docs) EXPECT_TRUE(IsValidationDocument(id, 0.3)) << id;
  EXPECT_EQ(std::count(corpus->val.begin(), corpus->val.end(), gwo::testing::FakeEotTokenizer::kEot),
            static_cast<long>(corpus->val_docs.size()) - 1);
  EXPECT_EQ(corpus->val_docs.front().substr(0, 8), "c.jsonl:");
}

TEST(LoadLabelledExamples, SplitMatchesTheCorpusSplit) {
  const gwo::testing::TestDir dir;
  std::string lines;
  for (int i = 0; i < 40; ++i) {
    absl::StrAppend(&lines, "{\"text\": \"message ", i, "\", \"label\": \"", i % 3 == 0 ? "spam" : "ham",
                    "\"}\n");
  }
  spec::DataSpec data;
  data.path = dir.Write("l.jsonl", lines);
  data.format = "labelled_jsonl";
  data.val_fraction = 0.25;
  absl::StatusOr<LabelledExamples> examples = LoadLabelledExamples(data);
  ASSERT_TRUE(examples.ok()) << examples.status();
  absl::StatusOr<Corpus> corpus = LoadCorpus(data, 2);
  ASSERT_TRUE(corpus.ok()) << corpus.status();
  ASSERT_EQ(examples->val.size(), corpus->val_docs.size());
  ASSERT_EQ(examples->train.size(), corpus->train_docs.size());
  for (size_t i = 0; i < examples->val.size(); ++i) EXPECT_EQ(examples->val[i].id, corpus->val_docs[i]);
  const LabelledExample& first = examples->train.front().id == "l.jsonl:1" ? examples->train.front()
                                                                           : examples->val.front();
  EXPECT_EQ(first.text, "message 0");
  EXPECT_EQ(first.label, "spam");
}

TEST(LoadLabelledExamples, OtherFormatIsInvalidArgument) {
  const gwo::testing::TestDir dir;
  WriteDocs(dir, 2, 40);
  EXPECT_EQ(LoadLabelledExamples(Spec(dir / "d")).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(LoadCorpus, MissingPathIsNotFound) {
  const gwo::testing::TestDir dir;
  EXPECT_EQ(LoadCorpus(Spec(dir / "missing"), 8).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace gwo::data
