// Reads for reports and live streams against a real PostgreSQL: final values,
// the clean series, SQL downsampling (with a 1M-point series), and paging after a
// cursor in commit order.
#include <chrono>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/store/postgres_fixture.h"

namespace gwo::server::testing {
namespace {

using ::testing::ElementsAre;

class SeriesTest : public PostgresTest {
 protected:
  // One experiment with the given runs; returns its id.
  void Record(const Assignment& a, const std::string& name, std::vector<std::pair<int64_t, double>> points) {
    std::vector<MetricPointRecord> records;
    for (auto [step, value] : points) records.push_back({step, name, value});
    ASSERT_TRUE(store_->RecordMetrics(a.run_id, a.attempt, records).ok());
  }
  // Attempt 1 reports steps 1..5 of "loss" (values 10 + step) and is lost; attempt
  // 2 resumes from step 3 and reports 4..6 (values 20 + step).
  Assignment ResumedRun(int64_t* experiment) {
    *experiment = CreateRuns({MakeRun("a")});
    const int64_t w = Worker("w");
    Assignment first = Claim(w);
    Record(first, "loss", {{1, 11}, {2, 12}, {3, 13}, {4, 14}, {5, 15}});
    Record(first, "acc", {{2, 0.2}, {5, 0.5}});
    EXPECT_TRUE(store_->ReleaseWorkerAttempts(w, "lost").ok());
    Assignment second = Claim(w);
    EXPECT_EQ(second.attempt, 2);
    Record(second, "loss", {{4, 24}, {5, 25}, {6, 26}});
    return second;
  }
};

std::vector<std::pair<int64_t, double>> Firsts(const DownsampledSeriesRecord& s) {
  std::vector<std::pair<int64_t, double>> out;
  for (const auto& b : s.buckets) out.emplace_back(b.step_start, b.first);
  return out;
}

TEST_F(SeriesTest, FinalValueIsTheLastPointOfTheCleanSeries) {
  int64_t experiment = 0;
  Assignment a = ResumedRun(&experiment);
  auto finals = store_->FinalMetrics(experiment).value();
  ASSERT_EQ(finals.size(), 1u);
  EXPECT_DOUBLE_EQ(finals.at(a.run_id).at("loss"), 26);  // attempt 2's last step, not attempt 1's
  // acc at step 5 belonged to attempt 1's discarded steps (attempt 2 resumed at 4);
  // its step 2 was before the resume point and stays.
  EXPECT_DOUBLE_EQ(finals.at(a.run_id).at("acc"), 0.2);
  EXPECT_EQ(store_->FinalMetrics(experiment + 100).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SeriesTest, CleanSeriesDropsPointsSupersededByAResumedAttempt) {
  int64_t experiment = 0;
  Assignment a = ResumedRun(&experiment);
  auto series = store_->QueryMetricBuckets(a.run_id, {"loss"}, 100, 0, -1).value();
  ASSERT_EQ(series.size(), 1u);
  EXPECT_EQ(series[0].total_points, 6);
  EXPECT_THAT(Firsts(series[0]), ElementsAre(std::pair<int64_t, double>{1, 11}, std::pair<int64_t, double>{2, 12},
                                             std::pair<int64_t, double>{3, 13}, std::pair<int64_t, double>{4, 24},
                                             std::pair<int64_t, double>{5, 25}, std::pair<int64_t, double>{6, 26}));
  // Step range.
  auto ranged = store_->QueryMetricBuckets(a.run_id, {"loss"}, 100, 2, 4).value();
  EXPECT_EQ(ranged[0].total_points, 3);
  EXPECT_EQ(store_->QueryMetricBuckets(a.run_id, {}, 0, 0, -1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->QueryMetricBuckets(a.run_id + 100, {}, 10, 0, -1).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SeriesTest, BucketsKeepFirstLastMinMaxAndMean) {
  CreateRuns({MakeRun("a")});
  Assignment a = Claim(Worker("w"));
  // Steps 0..9 with values 0..9 except a dip at step 3 and a spike at step 6; 2 buckets of 5 steps.
  std::vector<std::pair<int64_t, double>> pts;
  for (int s = 0; s < 10; ++s) pts.push_back({s, s == 3 ? -50.0 : s == 6 ? 90.0 : static_cast<double>(s)});
  Record(a, "x", pts);
  auto series = store_->QueryMetricBuckets(a.run_id, {"x"}, 2, 0, -1).value();
  ASSERT_EQ(series[0].buckets.size(), 2u);
  const MetricBucketRecord& b0 = series[0].buckets[0];
  EXPECT_EQ(b0.step_start, 0);
  EXPECT_EQ(b0.step_end, 4);
  EXPECT_EQ(b0.count, 5);
  EXPECT_DOUBLE_EQ(b0.first, 0);
  EXPECT_DOUBLE_EQ(b0.last, 4);
  EXPECT_DOUBLE_EQ(b0.min, -50);
  EXPECT_DOUBLE_EQ(b0.mean, (0 + 1 + 2 - 50 + 4) / 5.0);
  const MetricBucketRecord& b1 = series[0].buckets[1];
  EXPECT_DOUBLE_EQ(b1.max, 90);
  EXPECT_DOUBLE_EQ(b1.last, 9);
}

TEST_F(SeriesTest, OneMillionPointsDownsampleInSqlKeepingTheGlobalExtremes) {
  CreateRuns({MakeRun("big")});
  Assignment a = Claim(Worker("w"));
  // 1M points of a noisy curve, with one spike and one dip that must survive,
  // written with generate_series (RecordMetrics would take minutes), with the
  // latest_metrics row RecordMetrics keeps.
  ASSERT_TRUE(Sql(absl::StrCat("INSERT INTO metrics (run_id, name, step, attempt, value) "
                               "SELECT ", a.run_id, ", 'train_loss', g, ", a.attempt,
                               ", CASE WHEN g = 777777 THEN 1000 WHEN g = 123457 THEN -1000 "
                               "ELSE 3 + sin(g / 1000.0) + random() * 0.01 END "
                               "FROM generate_series(1, 1000000) g; "
                               "INSERT INTO latest_metrics (run_id, name, step, attempt, value) "
                               "VALUES (", a.run_id, ", 'train_loss', 1000000, ", a.attempt, ", 0)"))
                  .ok());
  ASSERT_TRUE(Sql("ANALYZE metrics").ok());
  const int kMaxPoints = 1000;
  const auto start = std::chrono::steady_clock::now();
  auto series = store_->QueryMetricBuckets(a.run_id, {"train_loss"}, kMaxPoints, 0, -1);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(series.ok()) << series.status();
  ASSERT_EQ(series->size(), 1u);
  const DownsampledSeriesRecord& s = (*series)[0];
  std::printf("[ measurement ] 1,000,000-point series -> %zu buckets (max_points %d) in %.1f ms\n",
              s.buckets.size(), kMaxPoints, ms);
  EXPECT_EQ(s.total_points, 1000000);
  EXPECT_LE(s.buckets.size(), static_cast<size_t>(kMaxPoints));
  EXPECT_GE(s.buckets.size(), static_cast<size_t>(kMaxPoints) * 9 / 10);
  double lo = 1e300, hi = -1e300;
  int64_t lo_step = 0, hi_step = 0, count = 0, prev_end = 0;
  for (const MetricBucketRecord& b : s.buckets) {
    if (b.min < lo) lo = b.min, lo_step = b.step_start <= 123457 && 123457 <= b.step_end ? 123457 : -1;
    if (b.max > hi) hi = b.max, hi_step = b.step_start <= 777777 && 777777 <= b.step_end ? 777777 : -1;
    count += b.count;
    EXPECT_GT(b.step_start, prev_end);  // ordered, disjoint
    prev_end = b.step_end;
  }
  EXPECT_EQ(count, 1000000);
  EXPECT_DOUBLE_EQ(hi, 1000);
  EXPECT_EQ(hi_step, 777777);
  EXPECT_DOUBLE_EQ(lo, -1000);
  EXPECT_EQ(lo_step, 123457);
  EXPECT_EQ(s.buckets.front().step_start, 1);
  EXPECT_EQ(s.buckets.back().step_end, 1000000);
}

TEST_F(SeriesTest, MetricsAfterPagesInCommitOrderWithTheRunState) {
  CreateRuns({MakeRun("a")});
  Assignment a = Claim(Worker("w"));
  Record(a, "loss", {{1, 1}, {2, 2}});
  Record(a, "acc", {{2, 0.1}});
  Record(a, "loss", {{3, 3}});
  MetricPage all = store_->MetricsAfter(a.run_id, 0, {}, 100).value();
  EXPECT_EQ(all.state, RunState::kRunning);
  ASSERT_EQ(all.points.size(), 4u);
  EXPECT_EQ(all.points[2].name, "acc");
  EXPECT_EQ(all.points[3].step, 3);
  EXPECT_EQ(all.head_seq, all.points[3].seq);
  for (size_t i = 1; i < all.points.size(); ++i) EXPECT_GT(all.points[i].seq, all.points[i - 1].seq);
  MetricPage page = store_->MetricsAfter(a.run_id, all.points[0].seq, {"loss"}, 1).value();
  ASSERT_EQ(page.points.size(), 1u);
  EXPECT_EQ(page.points[0].step, 2);
  EXPECT_EQ(page.points[0].attempt, 1);
  ASSERT_TRUE(store_->FinishAttempt(a.run_id, a.attempt, RunState::kSucceeded, "").ok());
  EXPECT_EQ(store_->MetricsAfter(a.run_id, all.head_seq, {}, 10).value().state, RunState::kSucceeded);
  EXPECT_EQ(store_->MetricsAfter(a.run_id + 9, 0, {}, 10).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SeriesTest, LogsAfterAndTailStart) {
  CreateRuns({MakeRun("a")});
  Assignment a = Claim(Worker("w"));
  ASSERT_TRUE(store_->AppendLogs(a.run_id, a.attempt, {"l1", "l2", "l3", "l4"}).ok());
  LogPage all = store_->LogsAfter(a.run_id, 0, 100).value();
  ASSERT_EQ(all.lines.size(), 4u);
  EXPECT_EQ(all.lines[0].text, "l1");
  EXPECT_EQ(all.lines[3].attempt, 1);
  const int64_t before_last_two = store_->LogIdBeforeTail(a.run_id, 2).value();
  LogPage tail = store_->LogsAfter(a.run_id, before_last_two, 100).value();
  ASSERT_EQ(tail.lines.size(), 2u);
  EXPECT_EQ(tail.lines[0].text, "l3");
  EXPECT_EQ(store_->LogIdBeforeTail(a.run_id, 10).value(), 0);
  EXPECT_EQ(store_->LogsAfter(a.run_id, 0, 3).value().lines.size(), 3u);
}

}  // namespace
}  // namespace gwo::server::testing
