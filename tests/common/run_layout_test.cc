#include "common/run_layout.h"

#include "gtest/gtest.h"

namespace gwo::run_layout {
namespace {

TEST(RunLayout, PathsUnderTheOutputFolder) {
  EXPECT_EQ(Metrics("/w/runs/3/attempt-1/out"), "/w/runs/3/attempt-1/out/metrics.jsonl");
  EXPECT_EQ(Final("out"), "out/final.ckpt");
  EXPECT_EQ(Best("out"), "out/best.ckpt");
  EXPECT_EQ(CheckpointsDir("out"), "out/checkpoints");
  EXPECT_EQ(StepCheckpoint("out", 120), "out/checkpoints/step-120.ckpt");
}

TEST(RunLayout, StepOfCheckpointNameReadsOnlyItsOwnNames) {
  EXPECT_EQ(StepOfCheckpointName(StepCheckpointName(7)), 7);
  EXPECT_EQ(StepOfCheckpointName("step-0.ckpt"), 0);
  EXPECT_EQ(StepOfCheckpointName("step-123456789012.ckpt"), 123456789012);
  for (const char* other : {"step-.ckpt", "step--1.ckpt", "step-1.ckpt.tmp", "step-1x.ckpt", "best.ckpt",
                            "Step-1.ckpt", "step-1", "step-+1.ckpt", "step-99999999999999999999.ckpt"}) {
    EXPECT_FALSE(StepOfCheckpointName(other).has_value()) << other;
  }
}

}  // namespace
}  // namespace gwo::run_layout
