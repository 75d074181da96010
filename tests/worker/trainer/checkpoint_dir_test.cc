#include "worker/trainer/checkpoint_dir.h"

#include <filesystem>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spec/parse.h"
#include "tests/worker/test_dir.h"
#include "worker/trainer/checkpoint_format.h"
#include "worker/trainer/file_io.h"

namespace gwo::trainer {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

spec::RunSpec SmallRun() {
  spec::RunSpec run;
  run.experiment = "dir-test";
  run.data.path = "/corpora/x";
  run.training.steps = 30;
  return run;
}

class CheckpointDirTest : public ::testing::Test {
 protected:
  // A checkpoint whose training state is `state` (not a real one: only its
  // presence matters here).
  std::string Write(int64_t step, const spec::RunSpec& run, const std::string& state = "state") {
    const std::string path = CheckpointPath(dir_.path(), step);
    EXPECT_TRUE(WriteFileAtomically(path, EncodeCheckpoint({.spec_yaml = spec::RunSpecToYaml(run),
                                                            .model_bytes = "weights",
                                                            .state_bytes = state}))
                    .ok());
    return path;
  }

  gwo::testing::TestDir dir_;
  spec::RunSpec run_ = SmallRun();
};

TEST_F(CheckpointDirTest, ListsOnlyStepFilesNewestFirst) {
  for (const int64_t step : {4, 12, 8}) Write(step, run_);
  dir_.Write("step-16.ckpt.tmp.123", "x");
  dir_.Write("step-20.ckpt.corrupt", "x");
  dir_.Write("step-x.ckpt", "x");
  dir_.Write("best.ckpt", "x");
  EXPECT_THAT(*ListCheckpointSteps(dir_.path()), ElementsAre(12, 8, 4));
  EXPECT_THAT(*ListCheckpointSteps(dir_ / "absent"), IsEmpty());
  EXPECT_EQ(CheckpointPath("/o/checkpoints", 7), "/o/checkpoints/step-7.ckpt");
}

TEST_F(CheckpointDirTest, PruneKeepsTheNewest) {
  for (const int64_t step : {4, 8, 12, 16, 20}) Write(step, run_);
  ASSERT_TRUE(PruneCheckpoints(dir_.path(), 2).ok());
  EXPECT_THAT(*ListCheckpointSteps(dir_.path()), ElementsAre(20, 16));
}

TEST_F(CheckpointDirTest, RemoveAfterDropsLaterStepsAndLeftoverTemporaries) {
  for (const int64_t step : {4, 8, 12}) Write(step, run_);
  dir_.Write("step-16.ckpt.tmp.999", "half");
  ASSERT_TRUE(RemoveCheckpointsAfter(dir_.path(), 8).ok());
  EXPECT_THAT(*ListCheckpointSteps(dir_.path()), ElementsAre(8, 4));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "step-16.ckpt.tmp.999"));
  ASSERT_TRUE(RemoveCheckpointsAfter(dir_.path(), -1).ok());
  EXPECT_THAT(*ListCheckpointSteps(dir_.path()), IsEmpty());
}

TEST_F(CheckpointDirTest, FindsNewestValidSkippingCorruptAndTruncatedOnes) {
  Write(4, run_);
  Write(8, run_);
  const std::string p12 = Write(12, run_);
  const std::string p16 = Write(16, run_);
  std::string bytes = *ReadFileToString(p16);
  bytes[bytes.size() / 2] ^= 0x01;
  ASSERT_TRUE(WriteFileAtomically(p16, bytes).ok());
  ASSERT_TRUE(WriteFileAtomically(p12, ReadFileToString(p12)->substr(0, 40)).ok());

  absl::StatusOr<ResumeSearch> search = FindResumePoint(dir_.path(), run_);
  ASSERT_TRUE(search.ok()) << search.status();
  ASSERT_TRUE(search->point.has_value());
  EXPECT_EQ(search->point->path, CheckpointPath(dir_.path(), 8));
  EXPECT_EQ(search->point->contents.state_bytes, "state");
  ASSERT_THAT(search->skipped, SizeIs(2));
  EXPECT_THAT(search->skipped[0], HasSubstr("checksum mismatch"));
  EXPECT_THAT(search->skipped[1], HasSubstr("truncated"));
  EXPECT_TRUE(std::filesystem::exists(p16 + ".corrupt"));
  EXPECT_THAT(*ListCheckpointSteps(dir_.path()), ElementsAre(8, 4));
}

TEST_F(CheckpointDirTest, NoCheckpointsMeansStartFresh) {
  absl::StatusOr<ResumeSearch> search = FindResumePoint(dir_ / "absent", run_);
  ASSERT_TRUE(search.ok());
  EXPECT_FALSE(search->point.has_value());
}

TEST_F(CheckpointDirTest, AnotherSpecIsRefusedNamingTheField) {
  spec::RunSpec other = run_;
  other.training.lr = 0.5;
  Write(8, other);
  const absl::StatusOr<ResumeSearch> search = FindResumePoint(dir_.path(), run_);
  EXPECT_EQ(search.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(search.status().message(), HasSubstr("training.lr: 0.5 in the checkpoint"));
  const absl::StatusOr<ResumeSearch> chosen = ChooseResumePoint(dir_.path(), run_, true, "");
  EXPECT_THAT(chosen.status().message(), HasSubstr("--resume=false"));
  EXPECT_TRUE(std::filesystem::exists(CheckpointPath(dir_.path(), 8)));  // left alone
}

TEST_F(CheckpointDirTest, WeightsOnlyCheckpointIsNotAResumePoint) {
  const std::string path = Write(8, run_, /*state=*/"");
  const absl::StatusOr<ResumePoint> point = ReadResumePoint(path, run_);
  EXPECT_EQ(point.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(point.status().message(), HasSubstr("weights only"));
}

TEST_F(CheckpointDirTest, ChooseFollowsTheFlags) {
  Write(8, run_);
  const std::string elsewhere = Write(4, run_);
  EXPECT_EQ(ChooseResumePoint(dir_.path(), run_, true, "")->point->path,
            CheckpointPath(dir_.path(), 8));
  EXPECT_EQ(ChooseResumePoint(dir_.path(), run_, true, elsewhere)->point->path, elsewhere);
  EXPECT_FALSE(ChooseResumePoint(dir_.path(), run_, false, "")->point.has_value());
  EXPECT_EQ(ChooseResumePoint(dir_.path(), run_, false, elsewhere).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ChooseResumePoint(dir_.path(), run_, true, dir_ / "absent.ckpt").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(CheckpointDirTest, AdoptsTheBestCheckpointOfAnotherRunDirectory) {
  const gwo::testing::TestDir other;
  const std::string best = EncodeCheckpoint({.spec_yaml = "s", .model_bytes = "best weights"});
  other.Write("best.ckpt", best);
  const std::string resume_path = other / "checkpoints/step-8.ckpt";
  EXPECT_TRUE(AdoptBestCheckpoint(resume_path, dir_.path()));
  EXPECT_EQ(*ReadFileToString(dir_ / "best.ckpt"), best);
  EXPECT_FALSE(AdoptBestCheckpoint(dir_ / "checkpoints/step-8.ckpt", dir_.path()));  // its own
  other.Write("best.ckpt", "corrupt");
  EXPECT_FALSE(AdoptBestCheckpoint(resume_path, dir_.path()));
  EXPECT_EQ(*ReadFileToString(dir_ / "best.ckpt"), best);
}

}  // namespace
}  // namespace gwo::trainer
