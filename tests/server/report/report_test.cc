// BuildReport: grouping, ordering, baseline choice and paired improvements.
#include "server/report/report.h"

#include <algorithm>
#include <cmath>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gwo::server::report {
namespace {

RunFinals Run(int64_t id, const std::string& dataset, const std::string& variant, int64_t seed,
              std::map<std::string, double> finals) {
  return {id, dataset, variant, seed, std::move(finals)};
}

const MetricCell* Cell(const ReportRow& row, const std::string& name) {
  for (const auto& c : row.metrics) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

// Two datasets x two variants x two seeds, in the coordinator's creation order.
std::vector<RunFinals> TwoByTwo() {
  return {
      Run(1, "code", "base", 1, {{"val_ppl", 20}, {"trainable_params", 1000}, {"lr", 1e-4}}),
      Run(2, "code", "base", 2, {{"val_ppl", 22}, {"trainable_params", 1000}, {"lr", 1e-4}}),
      Run(3, "code", "gwo", 2, {{"val_ppl", 19.8}, {"trainable_params", 1200}, {"lr", 1e-4}}),
      Run(4, "code", "gwo", 1, {{"val_ppl", 18}, {"trainable_params", 1200}, {"lr", 1e-4}}),
      Run(5, "math", "base", 1, {{"val_ppl", 5}}),
      Run(6, "math", "gwo", 1, {{"val_ppl", 5.5}}),
  };
}

TEST(BuildReportTest, RowsAreDatasetMajorWithTheFirstVariantAsBaseline) {
  Report r = BuildReport(TwoByTwo(), "", {});
  EXPECT_EQ(r.baseline_variant, "base");
  EXPECT_THAT(r.datasets, ::testing::ElementsAre("code", "math"));
  EXPECT_THAT(r.variants, ::testing::ElementsAre("base", "gwo"));
  EXPECT_THAT(r.metric_names, ::testing::ElementsAre("lr", "trainable_params", "val_ppl"));
  ASSERT_EQ(r.rows.size(), 4u);
  EXPECT_EQ(r.rows[0].dataset, "code");
  EXPECT_TRUE(r.rows[0].baseline);
  EXPECT_EQ(r.rows[1].variant, "gwo");
  EXPECT_THAT(r.rows[1].seeds, ::testing::ElementsAre(1, 2));
  EXPECT_THAT(r.rows[1].run_ids, ::testing::ElementsAre(4, 3));  // in seed order
  EXPECT_EQ(r.rows[2].dataset, "math");
}

TEST(BuildReportTest, MeanStdAndSeedPairedImprovement) {
  Report r = BuildReport(TwoByTwo(), "", {});
  const MetricCell* base = Cell(r.rows[0], "val_ppl");
  ASSERT_NE(base, nullptr);
  EXPECT_DOUBLE_EQ(base->value.mean, 21);
  EXPECT_NEAR(base->value.std, std::sqrt(2.0), 1e-12);  // (20, 22): sample std sqrt(2)
  EXPECT_FALSE(base->has_improvement);
  const MetricCell* gwo = Cell(r.rows[1], "val_ppl");
  ASSERT_NE(gwo, nullptr);
  EXPECT_DOUBLE_EQ(gwo->value.mean, 18.9);
  // seed 1: (20 - 18) / 20 = 10%; seed 2: (22 - 19.8) / 22 = 10% -> 10 ± 0.
  ASSERT_TRUE(gwo->has_improvement);
  EXPECT_EQ(gwo->improvement.n, 2);
  EXPECT_NEAR(gwo->improvement.mean, 10.0, 1e-9);
  EXPECT_NEAR(gwo->improvement.std, 0.0, 1e-9);
  // math: 5 -> 5.5 is 10% worse.
  const MetricCell* math = Cell(r.rows[3], "val_ppl");
  ASSERT_TRUE(math->has_improvement);
  EXPECT_NEAR(math->improvement.mean, -10.0, 1e-9);
}

TEST(BuildReportTest, NeutralMetricsHaveValuesButNoImprovement) {
  Report r = BuildReport(TwoByTwo(), "", {});
  const MetricCell* params = Cell(r.rows[1], "trainable_params");
  ASSERT_NE(params, nullptr);
  EXPECT_DOUBLE_EQ(params->value.mean, 1200);
  EXPECT_FALSE(params->has_improvement);
  EXPECT_EQ(Cell(r.rows[3], "trainable_params"), nullptr);  // math runs did not record it
}

TEST(BuildReportTest, ExplicitBaselineComesFirst) {
  Report r = BuildReport(TwoByTwo(), "gwo", {"val_ppl"});
  EXPECT_THAT(r.variants, ::testing::ElementsAre("gwo", "base"));
  EXPECT_THAT(r.metric_names, ::testing::ElementsAre("val_ppl"));
  EXPECT_TRUE(r.rows[0].baseline);
  EXPECT_EQ(r.rows[0].variant, "gwo");
  // base relative to gwo on math: 5.5 -> 5 is (5.5 - 5) / 5.5 better.
  const MetricCell* math_base = Cell(r.rows[3], "val_ppl");
  EXPECT_NEAR(math_base->improvement.mean, 100 * 0.5 / 5.5, 1e-9);
}

TEST(BuildReportTest, BaselineWithoutRunsGivesValuesButNoImprovements) {
  // e.g. every run of the baseline variant failed and only succeeded runs count.
  std::vector<RunFinals> runs = TwoByTwo();
  runs.erase(std::remove_if(runs.begin(), runs.end(), [](const RunFinals& r) { return r.variant == "base"; }),
             runs.end());
  Report r = BuildReport(runs, "base", {});
  EXPECT_EQ(r.baseline_variant, "base");
  ASSERT_EQ(r.rows.size(), 2u);
  for (const ReportRow& row : r.rows) {
    EXPECT_FALSE(row.baseline);
    for (const MetricCell& c : row.metrics) EXPECT_FALSE(c.has_improvement) << c.name;
  }
  EXPECT_DOUBLE_EQ(Cell(r.rows[0], "val_ppl")->value.mean, 18.9);
}

TEST(BuildReportTest, NoRunsGiveAnEmptyReport) {
  Report r = BuildReport({}, "", {});
  EXPECT_TRUE(r.rows.empty());
  EXPECT_TRUE(r.baseline_variant.empty());
}

}  // namespace
}  // namespace gwo::server::report
