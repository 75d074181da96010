#include "worker/data/readers.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/worker/test_dir.h"

namespace gwo::data {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

spec::DataSpec Spec(const std::string& path, const std::string& format) {
  spec::DataSpec data;
  data.name = "t";
  data.path = path;
  data.format = format;
  return data;
}

std::vector<std::string> Ids(const DocumentSet& set) {
  std::vector<std::string> ids;
  for (const Document& d : set.documents) ids.push_back(d.id);
  return ids;
}
std::vector<std::string> Texts(const DocumentSet& set) {
  std::vector<std::string> texts;
  for (const Document& d : set.documents) texts.push_back(d.text);
  return texts;
}

TEST(ReadDocuments, TextFilesAreDocumentsNamedByRelativePathEmptyOnesDropped) {
  const gwo::testing::TestDir dir;
  dir.Write("c/b.txt", "bee");
  dir.Write("c/a.txt", "ay");
  dir.Write("c/sub/z.txt", "zed");
  dir.Write("c/empty.txt", "");
  spec::DataSpec data = Spec(dir / "c", "text");
  data.glob = "*.txt";
  absl::StatusOr<DocumentSet> set = ReadDocuments(data);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_THAT(Ids(*set), ElementsAre("a.txt", "b.txt", "sub/z.txt"));
  EXPECT_THAT(Texts(*set), ElementsAre("ay", "bee", "zed"));
  EXPECT_EQ(set->bytes, 8);
}

TEST(ReadDocuments, JsonlLinesAreDocumentsKeyedByFileAndLineNumber) {
  const gwo::testing::TestDir dir;
  const std::string file = dir.Write(
      "c.jsonl", "{\"body\": \"first\", \"n\": 1}\n\n   \n{\"body\": \"sec\\u00e9ond\"}\r\n{\"body\": \"\"}\n"
                 "{\"body\": \"last\"}");
  spec::DataSpec data = Spec(file, "jsonl");
  data.field = "body";
  absl::StatusOr<DocumentSet> set = ReadDocuments(data);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_THAT(Ids(*set), ElementsAre("c.jsonl:1", "c.jsonl:4", "c.jsonl:6"));
  EXPECT_THAT(Texts(*set), ElementsAre("first", "sec\u00e9ond", "last"));
}

TEST(ReadDocuments, JsonlInADirectoryUsesTheRelativePathInIds) {
  const gwo::testing::TestDir dir;
  dir.Write("d/x/a.jsonl", "{\"text\": \"one\"}\n{\"text\": \"two\"}\n");
  spec::DataSpec data = Spec(dir / "d", "jsonl");
  data.glob = "*.jsonl";
  absl::StatusOr<DocumentSet> set = ReadDocuments(data);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_THAT(Ids(*set), ElementsAre("x/a.jsonl:1", "x/a.jsonl:2"));
}

TEST(ReadDocuments, JsonlBadLineIsInvalidArgumentNamingFileAndLine) {
  const gwo::testing::TestDir dir;
  struct Case {
    std::string line;
    std::string expected;
  };
  for (const Case& c : {Case{"{\"text\": \"ok\"", "not valid JSON"},
                        Case{"[1, 2]", "expected a JSON object"},
                        Case{"{\"other\": \"x\"}", "no field \"text\""},
                        Case{"{\"text\": 42}", "field \"text\" is not a string"}}) {
    const std::string file = dir.Write("bad.jsonl", "{\"text\": \"fine\"}\n\n" + c.line + "\n");
    absl::StatusOr<DocumentSet> set = ReadDocuments(Spec(file, "jsonl"));
    EXPECT_EQ(set.status().code(), absl::StatusCode::kInvalidArgument) << c.line;
    EXPECT_THAT(std::string(set.status().message()), HasSubstr(file + ":3: " + c.expected)) << c.line;
  }
}

TEST(ReadDocuments, LabelledJsonlReadsStringAndNumberLabels) {
  const gwo::testing::TestDir dir;
  const std::string file = dir.Write(
      "l.jsonl", "{\"text\": \"buy now\", \"label\": \"spam\"}\n{\"text\": \"hi mom\", \"label\": 0}\n"
                 "{\"text\": \"t\", \"label\": true}\n");
  absl::StatusOr<DocumentSet> set = ReadDocuments(Spec(file, "labelled_jsonl"));
  ASSERT_TRUE(set.ok()) << set.status();
  ASSERT_EQ(set->documents.size(), 3u);
  EXPECT_EQ(set->documents[0].label, "spam");
  EXPECT_EQ(set->documents[1].label, "0");
  EXPECT_EQ(set->documents[2].label, "true");
  EXPECT_EQ(set->documents[1].text, "hi mom");
}

TEST(ReadDocuments, LabelledJsonlWithoutLabelIsInvalidArgument) {
  const gwo::testing::TestDir dir;
  const std::string file = dir.Write("l.jsonl", "{\"text\": \"a\", \"group\": \"g\"}\n");
  absl::StatusOr<DocumentSet> set = ReadDocuments(Spec(file, "labelled_jsonl"));
  EXPECT_EQ(set.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(set.status().message()), HasSubstr(":1: no label field \"label\""));
  spec::DataSpec by_group = Spec(file, "labelled_jsonl");
  by_group.label_field = "group";
  absl::StatusOr<DocumentSet> grouped = ReadDocuments(by_group);
  ASSERT_TRUE(grouped.ok()) << grouped.status();
  EXPECT_EQ(grouped->documents[0].label, "g");
}

TEST(ReadDocuments, MaxBytesCutsTheLastDocumentOfAJsonlFile) {
  const gwo::testing::TestDir dir;
  const std::string file =
      dir.Write("c.jsonl", "{\"text\": \"aaaa\"}\n{\"text\": \"bbbb\"}\n{\"text\": \"cccc\"}\n");
  spec::DataSpec data = Spec(file, "jsonl");
  data.max_bytes = 6;
  absl::StatusOr<DocumentSet> set = ReadDocuments(data);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_THAT(Texts(*set), ElementsAre("aaaa", "bb"));
  EXPECT_EQ(set->bytes, 6);
}

TEST(ReadDocuments, MaxBytesPerLabelReadsTheStartOfEveryLabel) {
  const gwo::testing::TestDir dir;
  // Sorted by label, like the spam corpus: a plain max_bytes would read only "a".
  const std::string file = dir.Write(
      "l.jsonl", "{\"text\": \"a1a1\", \"label\": \"a\"}\n{\"text\": \"a2a2\", \"label\": \"a\"}\n"
                 "{\"text\": \"a3a3\", \"label\": \"a\"}\n{\"text\": \"b1b1\", \"label\": \"b\"}\n"
                 "{\"text\": \"b2b2\", \"label\": \"b\"}\n{\"text\": \"c1\", \"label\": \"c\"}\n");
  spec::DataSpec data = Spec(file, "labelled_jsonl");
  data.max_bytes_per_label = 6;
  absl::StatusOr<DocumentSet> set = ReadDocuments(data);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_THAT(Texts(*set), ElementsAre("a1a1", "a2", "b1b1", "b2", "c1"));
  EXPECT_EQ(set->bytes, 14);
  data.max_bytes = 9;  // still the cap on the total
  set = ReadDocuments(data);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_THAT(Texts(*set), ElementsAre("a1a1", "a2", "b1b"));
  spec::DataSpec plain = Spec(file, "jsonl");
  plain.max_bytes_per_label = 6;
  EXPECT_THAT(std::string(ReadDocuments(plain).status().message()),
              HasSubstr("max_bytes_per_label needs labelled_jsonl"));
}

TEST(ReadDocuments, UnknownFormatIsInvalidArgument) {
  const gwo::testing::TestDir dir;
  const std::string file = dir.Write("a.txt", "x");
  absl::StatusOr<DocumentSet> set = ReadDocuments(Spec(file, "csv"));
  EXPECT_EQ(set.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(set.status().message()), HasSubstr("csv"));
}

TEST(ReadDocuments, TaggedFilesAreDetagged) {
  const gwo::testing::TestDir dir;
  dir.Write("b/ca01", "\n\n\tThe/at jury/nn said/vbd ./.\n\n");
  spec::DataSpec data = Spec(dir / "b", "tagged");
  absl::StatusOr<DocumentSet> set = ReadDocuments(data);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_THAT(Texts(*set), ElementsAre("The jury said.\n"));
  EXPECT_THAT(Ids(*set), ElementsAre("ca01"));
}

TEST(DetagText, RebuildsBrownSentencesParagraphsQuotesAndPunctuation) {
  // Two paragraphs as the Brown corpus lays them out: blank lines between
  // paragraphs, a tab before the first sentence, one sentence a line.
  const std::string tagged =
      "\n\n\tThe/at Fulton/np-tl jury/nn said/vbd ``/`` no/at evidence/nn ''/'' was/bedz found/vbn "
      "(/( see/vb above/rb )/) ./.\n"
      "It/pps cost/vbd $600/nns ,/, he's/pps+bez said/vbd ;/. 1-1/2/cd hours/nns --/-- not/* more/ap !/.\n"
      "\n\n\tWhy/wrb ?/. ``/`` `/` Quoted/vbn '/' ''/'' //in :/:\n\n";
  EXPECT_EQ(DetagText(tagged),
            "The Fulton jury said \"no evidence\" was found (see above). It cost $600, he's said; "
            "1-1/2 hours -- not more!\n"
            "\n"
            "Why? \"'Quoted'\" /:\n");
}

TEST(DetagText, KeepsTokensWithoutTagsAndJoinsSentencesOfAParagraph) {
  EXPECT_EQ(DetagText("a/x b/y ./.\nc/z ./.\n"), "a b. c.\n");
  EXPECT_EQ(DetagText("plain words/nn here\n"), "plain words here\n");
  EXPECT_EQ(DetagText("\n\n  \n"), "");
}

}  // namespace
}  // namespace gwo::data
