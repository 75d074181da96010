#include "worker/trainer/resume_spec.h"

#include <algorithm>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gwo::trainer {
namespace {

using ::testing::HasSubstr;

spec::RunSpec BaseRun() {
  spec::RunSpec run;
  run.experiment = "e";
  run.variant = "v";
  run.data.path = "/corpora/x";
  return run;
}

TEST(ResumeIncompatibility, SameSpecResumes) {
  EXPECT_EQ(ResumeIncompatibility(BaseRun(), BaseRun()), std::nullopt);
}

TEST(ResumeIncompatibility, ListsEveryFieldThatShapesTheCurve) {
  spec::RunSpec given = BaseRun();
  given.seed = 9;
  given.training.steps = 500;  // the cosine schedule depends on it
  given.model.dropout = 0.2;
  const std::optional<std::string> why = ResumeIncompatibility(BaseRun(), given);
  ASSERT_TRUE(why.has_value());
  EXPECT_THAT(*why, HasSubstr("seed: 0 in the checkpoint, 9 now"));
  EXPECT_THAT(*why, HasSubstr("training.steps: 200 in the checkpoint, 500 now"));
  EXPECT_THAT(*why, HasSubstr("model.dropout: "));
  EXPECT_EQ(std::count(why->begin(), why->end(), '\n'), 2);  // three lines
}

TEST(ResumeIncompatibility, PrecisionMustMatchAndOldCheckpointsTrainedInFp32) {
  spec::RunSpec saved = BaseRun(), given = BaseRun();
  saved.training.precision = "fp32";
  given.training.precision = "bf16";
  given.training.cuda_graph = false;  // how fast, not what: free
  const std::optional<std::string> why = ResumeIncompatibility(saved, given);
  ASSERT_TRUE(why.has_value());
  EXPECT_EQ(*why, "training.precision: fp32 in the checkpoint, bf16 now");
  saved.training.precision = "auto";  // written before the field existed
  given.training.precision = "fp32";
  EXPECT_EQ(ResumeIncompatibility(saved, given), std::nullopt);
  given.training.precision = "bf16";
  EXPECT_THAT(ResumeIncompatibility(saved, given).value_or(""), HasSubstr("fp32 in the checkpoint, bf16 now"));
}

TEST(ResumeIncompatibility, ObservationAndPlacementMayChange) {
  spec::RunSpec given = BaseRun();
  given.max_restarts = 9;
  given.training.log_every = 1;
  given.training.eval_every = 7;
  given.training.checkpoint_every = 3;
  given.training.keep_checkpoints = 9;
  given.training.threads = 4;
  given.training.device = "cuda";
  given.model.init = "/elsewhere/final.ckpt";  // the weights come from the checkpoint
  EXPECT_EQ(ResumeIncompatibility(BaseRun(), given), std::nullopt);
}

TEST(ResumeIncompatibility, DataPathMayMoveOnlyUnderTheSameRecipe) {
  spec::RunSpec saved = BaseRun(), given = BaseRun();
  given.data.path = "/other/x";
  EXPECT_NE(ResumeIncompatibility(saved, given), std::nullopt);
  saved.data.recipe = given.data.recipe = "brown";
  EXPECT_EQ(ResumeIncompatibility(saved, given), std::nullopt);
}

}  // namespace
}  // namespace gwo::trainer
