#include "worker/data/corpus_files.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/worker/test_dir.h"

namespace gwo::data {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ListCorpusFiles, DirectoryMatchesGlobRecursivelySortedByPath) {
  const gwo::testing::TestDir dir;
  dir.Write("b.py", "b");
  dir.Write("a.py", "a");
  dir.Write("notes.txt", "x");
  dir.Write("pkg/sub/z.py", "z");
  dir.Write("pkg/init.py", "i");
  dir.Write("pkg/readme.md", "r");
  absl::StatusOr<std::vector<std::string>> files = ListCorpusFiles(dir.path(), "*.py");
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_THAT(*files,
              ElementsAre(dir / "a.py", dir / "b.py", dir / "pkg/init.py", dir / "pkg/sub/z.py"));
}

TEST(ListCorpusFiles, RegularFileIsItselfWhateverTheGlob) {
  const gwo::testing::TestDir dir;
  const std::string file = dir.Write("corpus.txt", "text");
  absl::StatusOr<std::vector<std::string>> files = ListCorpusFiles(file, "*.py");
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_THAT(*files, ElementsAre(file));
}

TEST(ListCorpusFiles, MissingPathIsNotFound) {
  const gwo::testing::TestDir dir;
  absl::StatusOr<std::vector<std::string>> files = ListCorpusFiles(dir / "nope", "*");
  EXPECT_EQ(files.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(files.status().message(), HasSubstr("does not exist"));
}

TEST(ListCorpusFiles, NothingMatchingIsInvalidArgumentNamingTheGlob) {
  const gwo::testing::TestDir dir;
  dir.Write("a.txt", "a");
  absl::StatusOr<std::vector<std::string>> files = ListCorpusFiles(dir.path(), "*.py");
  EXPECT_EQ(files.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(files.status().message(), HasSubstr("*.py"));
}

}  // namespace
}  // namespace gwo::data
