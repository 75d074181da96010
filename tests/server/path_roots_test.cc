// The path-escape corpus: what a job.yaml may name (server/path_roots.h).
#include "server/path_roots.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spec/parse.h"

namespace gwo::server {
namespace {

using ::testing::HasSubstr;

class PathRootsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = absl::StrCat(::testing::TempDir(), "/path-roots-", getpid());
    root_ = base_ + "/data";
    outside_ = base_ + "/secret";
    ASSERT_EQ(system(absl::StrCat("rm -rf '", base_, "' && mkdir -p '", root_, "/corpus' '", outside_, "' '", base_,
                                  "/data2'")
                         .c_str()),
              0);
    std::ofstream(root_ + "/corpus/a.txt") << "text\n";
    std::ofstream(outside_ + "/key.txt") << "secret\n";
    // Inside the root, leading out of it; and one leading to another place inside.
    ASSERT_EQ(symlink(outside_.c_str(), (root_ + "/escape").c_str()), 0);
    ASSERT_EQ(symlink((root_ + "/corpus").c_str(), (root_ + "/alias").c_str()), 0);
  }
  void TearDown() override { system(absl::StrCat("rm -rf '", base_, "'").c_str()); }

  absl::Status Check(const std::string& path) { return CheckPathUnderRoots(path, {root_}, "datasets[0].path: "); }

  std::string base_, root_, outside_;
};

TEST_F(PathRootsTest, PathsBeneathARootAreAllowed) {
  EXPECT_TRUE(Check(root_).ok());
  EXPECT_TRUE(Check(root_ + "/corpus").ok());
  EXPECT_TRUE(Check(root_ + "/corpus/a.txt").ok());
  EXPECT_TRUE(Check(root_ + "//corpus/./a.txt").ok());
  EXPECT_TRUE(Check(root_ + "/alias/a.txt").ok()) << "a link that stays inside";
  EXPECT_TRUE(Check(root_ + "/not-yet-there/x.txt").ok()) << "may exist only on the worker's host";
}

TEST_F(PathRootsTest, EscapesAreRefusedSayingWhy) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {root_ + "/../secret/key.txt", "contains \"..\""},
      {root_ + "/corpus/../../secret", "contains \"..\""},
      {"..", "not an absolute path"},
      {"data/corpus", "not an absolute path"},
      {"", "not an absolute path"},
      {"/etc/shadow", "outside the allowed roots"},
      {outside_ + "/key.txt", "outside the allowed roots"},
      {base_ + "/data2", "outside the allowed roots"},  // a prefix of the name is not a parent
      {root_ + "2", "outside the allowed roots"},
      {root_ + "/escape/key.txt", "symbolic link"},
      {root_ + "/escape", "symbolic link"},
  };
  for (const auto& [path, why] : cases) {
    absl::Status s = Check(path);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << path;
    EXPECT_THAT(s.message(), HasSubstr(why)) << path;
    EXPECT_THAT(s.message(), HasSubstr("datasets[0].path: ")) << path;
    EXPECT_THAT(s.message(), HasSubstr("--path_roots")) << path;
  }
}

TEST_F(PathRootsTest, EveryPathOfASpecIsCheckedAndNamedByLine) {
  const std::string yaml = absl::StrCat(
      "name: e\n"
      "datasets:\n"
      "  - {name: ok, path: ", root_, "/corpus}\n"
      "  - {name: bad, path: /etc}\n"
      "  - {name: tok, path: ", root_, "/corpus, tokenizer: ", outside_, "/tokenizer.json}\n"
      "model: {init: ", root_, "/../secret/model.safetensors}\n"
      "variants:\n"
      "  - name: a\n"
      "  - name: b\n"
      "    training: {distill: {teacher: /root/teacher.ckpt}}\n");
  absl::StatusOr<spec::ExperimentSpec> spec = spec::ParseExperimentSpec(yaml, "job.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  absl::Status s = CheckSpecPaths(*spec, {root_}, "job.yaml");
  ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("job.yaml:4:"));
  EXPECT_THAT(s.message(), HasSubstr("datasets[1].path: \"/etc\" is outside"));
  EXPECT_THAT(s.message(), HasSubstr("datasets[2].tokenizer"));
  EXPECT_THAT(s.message(), HasSubstr("model.init: "));
  EXPECT_THAT(s.message(), HasSubstr("variants.b.training.distill.teacher"));
  EXPECT_THAT(s.message(), ::testing::Not(HasSubstr("datasets[0]")));
  EXPECT_TRUE(CheckSpecPaths(*spec, {}, "job.yaml").ok()) << "no roots: no restriction";
  EXPECT_TRUE(CheckSpecPaths(*spec, {"/"}, "job.yaml").code() == absl::StatusCode::kInvalidArgument)
      << "\"/\" allows every absolute path, not \"..\"";
}

TEST(DefaultPathRoots, HoldTheQuickstartsCorpusAndNotHomeOrEtc) {
  const std::vector<std::string> roots = DefaultPathRoots();
  EXPECT_TRUE(CheckPathUnderRoots("/usr/lib/python3.11", roots, "").ok());
  EXPECT_FALSE(CheckPathUnderRoots("/etc/passwd", roots, "").ok());
  EXPECT_FALSE(CheckPathUnderRoots("/root/.ssh/id_rsa", roots, "").ok());
}

}  // namespace
}  // namespace gwo::server
