#include "worker/trainer/lr_schedule.h"

#include "gtest/gtest.h"

namespace gwo::trainer {
namespace {

constexpr LrSchedule kSchedule{.lr = 1e-3, .min_lr = 1e-4, .warmup_steps = 10, .total_steps = 110};

TEST(LearningRate, WarmupRisesLinearlyToPeak) {
  EXPECT_DOUBLE_EQ(LearningRate(kSchedule, 1), 1e-4);
  EXPECT_DOUBLE_EQ(LearningRate(kSchedule, 5), 5e-4);
  EXPECT_DOUBLE_EQ(LearningRate(kSchedule, 10), 1e-3);
}

TEST(LearningRate, CosineDecaysFromPeakToFloor) {
  EXPECT_DOUBLE_EQ(LearningRate(kSchedule, 60), 0.5 * (1e-3 + 1e-4));  // halfway
  EXPECT_DOUBLE_EQ(LearningRate(kSchedule, 110), 1e-4);
  EXPECT_DOUBLE_EQ(LearningRate(kSchedule, 500), 1e-4);
  double previous = LearningRate(kSchedule, 10);
  for (int64_t step = 11; step <= 110; ++step) {
    const double lr = LearningRate(kSchedule, step);
    EXPECT_LT(lr, previous) << step;
    previous = lr;
  }
}

TEST(LearningRate, NoWarmupStartsNearPeak) {
  const LrSchedule schedule{.lr = 1e-3, .min_lr = 0.0, .warmup_steps = 0, .total_steps = 100};
  EXPECT_GT(LearningRate(schedule, 1), 0.99e-3);
  EXPECT_DOUBLE_EQ(LearningRate(schedule, 100), 0.0);
}

TEST(LearningRate, WarmupLongerThanRunNeverDividesByZero) {
  const LrSchedule schedule{.lr = 1e-3, .min_lr = 1e-4, .warmup_steps = 20, .total_steps = 10};
  EXPECT_DOUBLE_EQ(LearningRate(schedule, 10), 0.5e-3);
}

}  // namespace
}  // namespace gwo::trainer
