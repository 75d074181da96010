// Report statistics against hand-computed values.
#include "server/report/stats.h"

#include <cmath>

#include "gtest/gtest.h"

namespace gwo::server::report {
namespace {

TEST(SummarizeTest, MeanAndSampleStdUseNMinusOne) {
  // values 2, 4, 4, 4, 5, 5, 7, 9: mean 5, squared deviations sum 32,
  // sample variance 32 / 7 (population would be 32 / 8 = 4).
  Summary s = Summarize({2, 4, 4, 4, 5, 5, 7, 9});
  EXPECT_EQ(s.n, 8);
  EXPECT_DOUBLE_EQ(s.mean, 5.0);
  EXPECT_DOUBLE_EQ(s.std, std::sqrt(32.0 / 7.0));
}

TEST(SummarizeTest, ThreeSeedsByHand) {
  // 3.0, 3.2, 3.4: mean 3.2, deviations -0.2, 0, 0.2 -> variance 0.08 / 2 = 0.04, std 0.2.
  Summary s = Summarize({3.0, 3.2, 3.4});
  EXPECT_NEAR(s.mean, 3.2, 1e-12);
  EXPECT_NEAR(s.std, 0.2, 1e-12);
}

TEST(SummarizeTest, OneValueHasZeroStdAndNoneIsEmpty) {
  Summary one = Summarize({7.5});
  EXPECT_EQ(one.n, 1);
  EXPECT_DOUBLE_EQ(one.mean, 7.5);
  EXPECT_DOUBLE_EQ(one.std, 0.0);
  Summary none = Summarize({});
  EXPECT_EQ(none.n, 0);
  EXPECT_DOUBLE_EQ(none.mean, 0.0);
}

TEST(SummarizeTest, LargeCommonOffsetKeepsPrecision) {
  Summary s = Summarize({1e9 + 1, 1e9 + 2, 1e9 + 3});
  EXPECT_NEAR(s.std, 1.0, 1e-6);
}

TEST(SummarizeTest, NanSeedMakesTheSummaryNan) {
  Summary s = Summarize({1.0, std::nan("")});
  EXPECT_TRUE(std::isnan(s.mean));
}

TEST(MetricDirectionTest, NamesDecideTheDirection) {
  EXPECT_EQ(MetricDirection("val_loss"), Direction::kLowerIsBetter);
  EXPECT_EQ(MetricDirection("val_ppl"), Direction::kLowerIsBetter);
  EXPECT_EQ(MetricDirection("kl_div"), Direction::kLowerIsBetter);
  EXPECT_EQ(MetricDirection("attn_prob_mse"), Direction::kLowerIsBetter);
  EXPECT_EQ(MetricDirection("peak_memory_bytes"), Direction::kLowerIsBetter);
  EXPECT_EQ(MetricDirection("accuracy"), Direction::kHigherIsBetter);
  EXPECT_EQ(MetricDirection("grad_cosine"), Direction::kHigherIsBetter);
  EXPECT_EQ(MetricDirection("kendall_tau"), Direction::kHigherIsBetter);
  EXPECT_EQ(MetricDirection("SimAOU"), Direction::kHigherIsBetter);
  EXPECT_EQ(MetricDirection("tokens_per_s"), Direction::kHigherIsBetter);
  EXPECT_EQ(MetricDirection("lr"), Direction::kNeutral);
  EXPECT_EQ(MetricDirection("trainable_params"), Direction::kNeutral);
}

TEST(ImprovementPercentTest, PositiveMeansBetterInBothDirections) {
  double pct = 0;
  ASSERT_TRUE(ImprovementPercent(Direction::kLowerIsBetter, 20.0, 18.0, &pct));
  EXPECT_DOUBLE_EQ(pct, 10.0);  // ppl 20 -> 18: 10% better
  ASSERT_TRUE(ImprovementPercent(Direction::kLowerIsBetter, 20.0, 22.0, &pct));
  EXPECT_DOUBLE_EQ(pct, -10.0);
  ASSERT_TRUE(ImprovementPercent(Direction::kHigherIsBetter, 0.80, 0.84, &pct));
  EXPECT_NEAR(pct, 5.0, 1e-12);
  ASSERT_TRUE(ImprovementPercent(Direction::kHigherIsBetter, -2.0, -1.0, &pct));
  EXPECT_DOUBLE_EQ(pct, 50.0);  // |baseline| in the denominator keeps the sign meaningful
}

TEST(ImprovementPercentTest, UndefinedForNeutralOrZeroBaseline) {
  double pct = 123;
  EXPECT_FALSE(ImprovementPercent(Direction::kNeutral, 1.0, 2.0, &pct));
  EXPECT_FALSE(ImprovementPercent(Direction::kLowerIsBetter, 0.0, 2.0, &pct));
  EXPECT_DOUBLE_EQ(pct, 123);
}

TEST(PairedImprovementTest, PairsBySeedNotByPosition) {
  // Baseline ppl per seed: 1 -> 20, 2 -> 10, 3 -> 40. Variant: 1 -> 18, 2 -> 9.5, 3 -> 36.
  // Per seed: 10%, 5%, 10% -> mean 25/3, sample std sqrt(((5/3)^2 + (10/3)^2 + (5/3)^2) / 2) = sqrt(25/3).
  Summary s = PairedImprovement(Direction::kLowerIsBetter, {{1, 20}, {2, 10}, {3, 40}},
                                {{3, 36}, {1, 18}, {2, 9.5}});
  EXPECT_EQ(s.n, 3);
  EXPECT_NEAR(s.mean, 25.0 / 3.0, 1e-12);
  EXPECT_NEAR(s.std, std::sqrt(25.0 / 3.0), 1e-12);
}

TEST(PairedImprovementTest, UnpairedSeedsAreSkipped) {
  Summary s = PairedImprovement(Direction::kLowerIsBetter, {{1, 10}, {2, 10}}, {{2, 9}, {5, 1}});
  EXPECT_EQ(s.n, 1);
  EXPECT_NEAR(s.mean, 10.0, 1e-12);
  EXPECT_DOUBLE_EQ(s.std, 0.0);
}

}  // namespace
}  // namespace gwo::server::report
