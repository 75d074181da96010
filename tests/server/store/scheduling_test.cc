// Store against a real PostgreSQL: claims, fenced reports, metrics, logs, lost workers.
#include <cmath>
#include <mutex>
#include <set>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/store/postgres_fixture.h"

namespace gwo::server::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class SchedulingTest : public PostgresTest {};

std::vector<std::pair<int64_t, double>> Points(const MetricSeriesRecord& s) {
  std::vector<std::pair<int64_t, double>> out;
  for (const MetricPointRecord& p : s.points) out.emplace_back(p.step, p.value);
  return out;
}

TEST_F(SchedulingTest, ClaimGivesEachQueuedRunOnce) {
  std::vector<NewRun> runs;
  for (int i = 0; i < 40; ++i) runs.push_back(MakeRun("r" + std::to_string(i)));
  CreateRuns(runs);
  std::vector<int64_t> workers;
  for (int i = 0; i < 6; ++i) workers.push_back(Worker("w" + std::to_string(i)));
  std::mutex mu;
  std::vector<int64_t> claimed;
  std::vector<std::thread> threads;
  for (int64_t w : workers) {
    threads.emplace_back([&, w] {
      for (;;) {
        absl::StatusOr<std::optional<Assignment>> a = store_->ClaimNextRun(w);
        ASSERT_TRUE(a.ok()) << a.status();
        if (!a->has_value()) return;
        EXPECT_EQ((*a)->attempt, 1);
        std::lock_guard<std::mutex> lock(mu);
        claimed.push_back((*a)->run_id);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(claimed.size(), 40u);
  EXPECT_EQ(std::set<int64_t>(claimed.begin(), claimed.end()).size(), 40u);
  int running = 0;
  for (int64_t w : workers) running += store_->RunningAttempts(w)->size();
  EXPECT_EQ(running, 40);
}

TEST_F(SchedulingTest, ClaimOrdersByPriorityThenAge) {
  CreateRuns({MakeRun("low-old", 0), MakeRun("high-old", 5), MakeRun("low-new", 0)});
  CreateRuns({MakeRun("high-new", 5), MakeRun("urgent", 9)});
  const int64_t w = Worker("w");
  std::vector<std::string> order;
  for (int i = 0; i < 5; ++i) order.push_back(Claim(w).run_name);
  EXPECT_THAT(order, ElementsAre("urgent", "high-old", "high-new", "low-old", "low-new"));
  EXPECT_FALSE(store_->ClaimNextRun(w)->has_value());
}

TEST_F(SchedulingTest, MetricsAreStoredOncePerKey) {
  const int64_t e = CreateRuns({MakeRun("a")});
  const Assignment a = Claim(Worker("w"));
  ASSERT_TRUE(store_->RecordMetrics(a.run_id, 1, {{10, "loss", 2.5}, {10, "ppl", 12.0}, {20, "loss", 2.0}}).ok());
  // A replay (with a different value) and a duplicate inside one batch change nothing.
  ASSERT_TRUE(store_->RecordMetrics(a.run_id, 1, {{20, "loss", 99.0}, {30, "loss", 1.5}, {30, "loss", 7.0}}).ok());
  absl::StatusOr<std::vector<MetricSeriesRecord>> series = store_->QueryMetrics(a.run_id, {});
  ASSERT_TRUE(series.ok()) << series.status();
  ASSERT_EQ(series->size(), 2u);
  EXPECT_EQ((*series)[0].name, "loss");
  EXPECT_THAT(Points((*series)[0]), ElementsAre(std::pair<int64_t, double>{10, 2.5}, std::pair<int64_t, double>{20, 2.0},
                                                std::pair<int64_t, double>{30, 1.5}));
  EXPECT_EQ((*series)[1].name, "ppl");
  // Filtered by name.
  absl::StatusOr<std::vector<MetricSeriesRecord>> ppl = store_->QueryMetrics(a.run_id, {"ppl", "absent"});
  ASSERT_EQ(ppl->size(), 1u);
  EXPECT_EQ((*ppl)[0].name, "ppl");
  // The run's step and latest values.
  RunRecord r = store_->ListRuns(e)->at(0);
  EXPECT_EQ(r.step, 30);
  EXPECT_DOUBLE_EQ(r.latest_metrics.at("loss"), 1.5);
  EXPECT_DOUBLE_EQ(r.latest_metrics.at("ppl"), 12.0);
  // An older batch does not move the step back.
  ASSERT_TRUE(store_->RecordMetrics(a.run_id, 1, {{5, "acc", 0.5}}).ok());
  EXPECT_EQ(store_->GetRun(a.run_id)->step, 30);
}

TEST_F(SchedulingTest, SpecialValuesAndNamesRoundTrip) {
  const Assignment a = Claim((CreateRuns({MakeRun("a")}), Worker("w")));
  const std::string name = "eval/\"quoted\",{x}\\";
  ASSERT_TRUE(store_
                  ->RecordMetrics(a.run_id, 1,
                                  {{1, name, 0.1}, {2, name, std::nan("")}, {3, name, INFINITY}, {4, name, -1e-300}})
                  .ok());
  std::vector<MetricSeriesRecord> s = store_->QueryMetrics(a.run_id, {name}).value();
  ASSERT_EQ(s.size(), 1u);
  ASSERT_EQ(s[0].points.size(), 4u);
  EXPECT_EQ(s[0].name, name);
  EXPECT_EQ(s[0].points[0].value, 0.1);  // exact: shortest round-trip text
  EXPECT_TRUE(std::isnan(s[0].points[1].value));
  EXPECT_EQ(s[0].points[2].value, INFINITY);
  EXPECT_EQ(s[0].points[3].value, -1e-300);
}

TEST_F(SchedulingTest, AttemptOutputDirIsRecordedPerAttempt) {
  CreateRuns({MakeRun("a")});
  const int64_t w1 = Worker("w1");
  const Assignment first = Claim(w1);
  ASSERT_TRUE(store_->RecordAttemptOutput(first.run_id, 1, "/work/runs/1/attempt-1/out").ok());
  EXPECT_EQ(store_->GetRun(first.run_id)->output_dir, "/work/runs/1/attempt-1/out");
  ASSERT_TRUE(store_->ReleaseWorkerAttempts(w1, "worker lost").ok());
  // A superseded attempt cannot move the run's output, and the new attempt starts empty.
  const Assignment second = Claim(Worker("w2"));
  EXPECT_EQ(store_->RecordAttemptOutput(first.run_id, 1, "/stale").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->GetRun(first.run_id)->output_dir, "");
  ASSERT_TRUE(store_->RecordAttemptOutput(second.run_id, 2, "/work/runs/1/attempt-2/out").ok());
  EXPECT_EQ(store_->GetRun(second.run_id)->output_dir, "/work/runs/1/attempt-2/out");
}

TEST_F(SchedulingTest, ReportOfSupersededAttemptIsRefused) {
  CreateRuns({MakeRun("a")});
  const int64_t w1 = Worker("w1");
  const Assignment first = Claim(w1);
  ASSERT_TRUE(store_->ReleaseWorkerAttempts(w1, "worker lost").ok());
  const Assignment second = Claim(Worker("w2"));
  ASSERT_EQ(second.run_id, first.run_id);
  ASSERT_EQ(second.attempt, 2);

  absl::Status st = store_->RecordMetrics(first.run_id, 1, {{1, "loss", 1.0}});
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
  EXPECT_THAT(std::string(st.message()), HasSubstr("attempt 1"));
  EXPECT_THAT(std::string(st.message()), HasSubstr("current attempt 2"));
  EXPECT_EQ(store_->AppendLogs(first.run_id, 1, {"late"}).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->FinishAttempt(first.run_id, 1, RunState::kSucceeded, "").code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->RecordMetrics(first.run_id, 3, {}).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(store_->QueryMetrics(first.run_id, {})->empty());
  EXPECT_TRUE(store_->TailLogs(first.run_id, 10)->empty());
  // The current attempt is accepted; once finished, it too is refused.
  EXPECT_TRUE(store_->RecordMetrics(second.run_id, 2, {{1, "loss", 1.0}}).ok());
  EXPECT_TRUE(store_->FinishAttempt(second.run_id, 2, RunState::kSucceeded, "").ok());
  EXPECT_EQ(store_->RecordMetrics(second.run_id, 2, {{2, "loss", 1.0}}).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->FinishAttempt(second.run_id, 2, RunState::kFailed, "x").code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(SchedulingTest, FinishAttemptMarksExperimentFinished) {
  const int64_t e = CreateRuns({MakeRun("a"), MakeRun("b")});
  const int64_t w = Worker("w");
  const Assignment a = Claim(w);
  const Assignment b = Claim(w);
  EXPECT_EQ(store_->FinishAttempt(a.run_id, 1, RunState::kRunning, "").code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(store_->FinishAttempt(a.run_id, 1, RunState::kSucceeded, "").ok());
  ExperimentRecord mid = store_->GetExperiment(e).value();
  EXPECT_EQ(mid.state, ExperimentState::kActive);
  EXPECT_FALSE(mid.finished_at.has_value());
  ASSERT_TRUE(store_->FinishAttempt(b.run_id, 1, RunState::kFailed, "CUDA out of memory").ok());
  ExperimentRecord done = store_->GetExperiment(e).value();
  EXPECT_EQ(done.state, ExperimentState::kFailed);
  ASSERT_TRUE(done.finished_at.has_value());
  RunRecord rb = store_->GetRun(b.run_id).value();
  EXPECT_EQ(rb.state, RunState::kFailed);
  EXPECT_EQ(rb.error, "CUDA out of memory");
  ASSERT_TRUE(rb.finished_at.has_value());
  EXPECT_LE(*rb.finished_at, *done.finished_at);
  EXPECT_TRUE(store_->RunningAttempts(w)->empty());

  // All succeeded: a succeeded experiment. Finishing runs concurrently still
  // leaves exactly one finisher seeing every run terminal.
  std::vector<NewRun> many;
  for (int i = 0; i < 8; ++i) many.push_back(MakeRun("m" + std::to_string(i)));
  const int64_t e2 = CreateRuns(many);
  std::vector<Assignment> claims;
  for (int i = 0; i < 8; ++i) claims.push_back(Claim(w));
  std::vector<std::thread> threads;
  for (const Assignment& c : claims) {
    threads.emplace_back([&, c] { EXPECT_TRUE(store_->FinishAttempt(c.run_id, 1, RunState::kSucceeded, "").ok()); });
  }
  for (auto& t : threads) t.join();
  ExperimentRecord all = store_->GetExperiment(e2).value();
  EXPECT_EQ(all.state, ExperimentState::kSucceeded);
  EXPECT_TRUE(all.finished_at.has_value());
}

TEST_F(SchedulingTest, ReleaseWorkerAttemptsRequeuesThenFails) {
  const int64_t e = CreateRuns({MakeRun("a", 0, /*max_restarts=*/1)});
  const int64_t w = Worker("w");
  const Assignment first = Claim(w);
  ASSERT_TRUE(store_->ReleaseWorkerAttempts(w, "stream dropped").ok());
  RunRecord r = store_->GetRun(first.run_id).value();
  EXPECT_EQ(r.state, RunState::kQueued);
  EXPECT_EQ(r.worker, "");
  EXPECT_EQ(r.attempt, 1);
  EXPECT_TRUE(store_->RunningAttempts(w)->empty());

  const Assignment second = Claim(w);
  EXPECT_EQ(second.attempt, 2);
  EXPECT_EQ(store_->RunningAttempts(w)->size(), 1u);
  ASSERT_TRUE(store_->ReleaseWorkerAttempts(w, "stream dropped").ok());
  r = store_->GetRun(first.run_id).value();
  EXPECT_EQ(r.state, RunState::kFailed);
  EXPECT_EQ(r.error, "stream dropped");
  EXPECT_TRUE(r.finished_at.has_value());
  EXPECT_EQ(store_->GetExperiment(e)->state, ExperimentState::kFailed);
  EXPECT_TRUE(store_->GetExperiment(e)->finished_at.has_value());
  EXPECT_FALSE(store_->ClaimNextRun(w)->has_value());
  // A worker with nothing running: nothing to do.
  EXPECT_TRUE(store_->ReleaseWorkerAttempts(w, "again").ok());
}

TEST_F(SchedulingTest, QueryMetricsPrefersLatestAttempt) {
  const int64_t e = CreateRuns({MakeRun("a")});
  const int64_t w = Worker("w");
  const Assignment first = Claim(w);
  ASSERT_TRUE(store_->RecordMetrics(first.run_id, 1, {{1, "loss", 5.0}, {2, "loss", 4.0}, {3, "loss", 3.0}}).ok());
  ASSERT_TRUE(store_->ReleaseWorkerAttempts(w, "lost").ok());
  const Assignment second = Claim(w);
  // Resumed from step 1's checkpoint: step 2 again, with other numbers.
  ASSERT_TRUE(store_->RecordMetrics(second.run_id, 2, {{2, "loss", 3.9}}).ok());
  std::vector<MetricSeriesRecord> s = store_->QueryMetrics(first.run_id, {"loss"}).value();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_THAT(Points(s[0]), ElementsAre(std::pair<int64_t, double>{1, 5.0}, std::pair<int64_t, double>{2, 3.9},
                                        std::pair<int64_t, double>{3, 3.0}));
  RunRecord r = store_->ListRuns(e)->at(0);
  EXPECT_EQ(r.step, 2);  // of the current attempt
  EXPECT_DOUBLE_EQ(r.latest_metrics.at("loss"), 3.0);  // highest step, whichever attempt
  ASSERT_TRUE(store_->RecordMetrics(second.run_id, 2, {{3, "loss", 2.9}}).ok());
  EXPECT_DOUBLE_EQ(store_->GetRun(first.run_id)->latest_metrics.at("loss"), 2.9);  // tie: newer attempt
}

TEST_F(SchedulingTest, TailLogsReturnsLastLinesInOrder) {
  CreateRuns({MakeRun("a")});
  const int64_t w = Worker("w");
  const Assignment first = Claim(w);
  ASSERT_TRUE(store_->AppendLogs(first.run_id, 1, {"one", "two", "bad utf8 \xff\xfe end"}).ok());
  ASSERT_TRUE(store_->ReleaseWorkerAttempts(w, "lost").ok());
  const Assignment second = Claim(w);
  ASSERT_TRUE(store_->AppendLogs(second.run_id, 2, {"four", "five"}).ok());
  EXPECT_THAT(store_->TailLogs(first.run_id, 3).value(), ElementsAre("bad utf8 ?? end", "four", "five"));
  EXPECT_EQ(store_->TailLogs(first.run_id, 100)->size(), 5u);
  EXPECT_TRUE(store_->TailLogs(first.run_id, 0)->empty());
}

TEST_F(SchedulingTest, WorkersAreUpsertedByName) {
  const int64_t id = store_->UpsertWorker({"gpu-host", "h1", "[{\"name\":\"H100\"}]", 8}).value();
  EXPECT_EQ(store_->UpsertWorker({"gpu-host", "h2", "[]", 4}).value(), id);
  EXPECT_NE(store_->UpsertWorker({"other", "h3", "[]", 1}).value(), id);
  EXPECT_TRUE(store_->MarkWorkerOffline(id).ok());
  EXPECT_EQ(store_->UpsertWorker({"", "h", "[]", 1}).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace gwo::server::testing
