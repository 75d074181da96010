#include "client/progress.h"

#include "gtest/gtest.h"

namespace gwo::client {
namespace {

TEST(ProgressBarTest, FillsByFraction) {
  EXPECT_EQ(ProgressBar(50, 100, 10), "[#####-----]  50%");
  EXPECT_EQ(ProgressBar(0, 100, 4), "[----]   0%");
  EXPECT_EQ(ProgressBar(150, 100, 4), "[####] 100%");
  EXPECT_EQ(ProgressBar(3, 0, 4), "[----]   -%");
}

TEST(FormatEtaTest, HoursMinutesSeconds) {
  EXPECT_EQ(FormatEta(absl::Seconds(42)), "42s");
  EXPECT_EQ(FormatEta(absl::Seconds(185)), "3m05s");
  EXPECT_EQ(FormatEta(absl::Seconds(3720)), "1h02m");
  EXPECT_EQ(FormatEta(absl::InfiniteDuration()), "-");
}

TEST(RateEstimatorTest, SmoothsAndRestartsWhenTheStepGoesBack) {
  RateEstimator r(0.5);
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  r.Observe(t0, 0);
  EXPECT_EQ(r.rate(), 0);
  EXPECT_EQ(r.Eta(100), absl::InfiniteDuration());
  r.Observe(t0 + absl::Seconds(1), 10);  // 10/s
  EXPECT_DOUBLE_EQ(r.rate(), 10);
  r.Observe(t0 + absl::Seconds(2), 30);  // 20/s -> 0.5 * 20 + 0.5 * 10
  EXPECT_DOUBLE_EQ(r.rate(), 15);
  EXPECT_EQ(r.Eta(60), absl::Seconds(2));  // 30 steps left at 15/s
  r.Observe(t0 + absl::Seconds(3), 5);  // a resumed attempt
  EXPECT_EQ(r.rate(), 0);
}

}  // namespace
}  // namespace gwo::client
