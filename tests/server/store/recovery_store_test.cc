// Store against a real PostgreSQL: what recovery relies on: requeue backoff,
// retryable failures, earlier attempts' outputs, archived and backfilled metric
// points, numbered (replay-safe) log lines, partial releases.
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/store/postgres_fixture.h"

namespace gwo::server::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

class RecoveryStoreTest : public PostgresTest {
 protected:
  // The run's clean series of `name` as (step, value).
  std::vector<std::pair<int64_t, double>> Series(int64_t run_id, const std::string& name) {
    std::vector<std::pair<int64_t, double>> out;
    absl::StatusOr<std::vector<MetricSeriesRecord>> s = store_->QueryMetrics(run_id, {name});
    EXPECT_TRUE(s.ok()) << s.status();
    if (s.ok() && !s->empty()) {
      for (const MetricPointRecord& p : (*s)[0].points) out.push_back({p.step, p.value});
    }
    return out;
  }
};

TEST_F(RecoveryStoreTest, RequeueBackoffDelaysTheNextClaim) {
  store_->SetRequeueBackoff(absl::Seconds(1), absl::Seconds(10));
  CreateRuns({MakeRun("a")});
  const int64_t w = Worker("w");
  const Assignment first = Claim(w);
  EXPECT_TRUE(first.resume_dirs.empty());
  ASSERT_TRUE(store_->RecordAttemptOutput(first.run_id, 1, "/w/runs/1/attempt-1/out").ok());
  ASSERT_TRUE(store_->ReleaseWorkerAttempts(w, "lost").ok());
  EXPECT_FALSE(store_->ClaimNextRun(w)->has_value()) << "claimed within the backoff";
  absl::SleepFor(absl::Milliseconds(1100));
  const Assignment second = Claim(w);
  EXPECT_EQ(second.attempt, 2);
  EXPECT_THAT(second.resume_dirs, ElementsAre("/w/runs/1/attempt-1/out"));
}

TEST_F(RecoveryStoreTest, RetryableFailureRequeuesWhileRestartsRemain) {
  const int64_t e = CreateRuns({MakeRun("a", 0, /*max_restarts=*/1), MakeRun("b")});
  const int64_t w = Worker("w");
  const Assignment a1 = Claim(w);
  const Assignment b1 = Claim(w);
  // Not retryable: failed at once, whatever the restarts left.
  ASSERT_TRUE(store_->FinishAttempt(b1.run_id, 1, RunState::kFailed, "invalid spec", false).ok());
  EXPECT_EQ(store_->GetRun(b1.run_id)->state, RunState::kFailed);
  ASSERT_TRUE(store_->FinishAttempt(a1.run_id, 1, RunState::kFailed, "killed by signal 9", true).ok());
  EXPECT_EQ(store_->GetRun(a1.run_id)->state, RunState::kQueued);
  const Assignment a2 = Claim(w);
  EXPECT_EQ(a2.run_id, a1.run_id);
  EXPECT_EQ(a2.attempt, 2);
  ASSERT_TRUE(store_->FinishAttempt(a2.run_id, 2, RunState::kFailed, "killed by signal 9", true).ok());
  RunRecord r = store_->GetRun(a1.run_id).value();
  EXPECT_EQ(r.state, RunState::kFailed);  // max_restarts 1: two attempts in all
  EXPECT_EQ(r.error, "killed by signal 9");
  EXPECT_EQ(store_->GetExperiment(e)->state, ExperimentState::kFailed);
}

TEST_F(RecoveryStoreTest, ArchiveAndBackfillMakeOneCleanCurve) {
  CreateRuns({MakeRun("a")});
  const int64_t w = Worker("w");
  const Assignment first = Claim(w);
  // Attempt 1 delivered steps 1, 2, 4, 5 (step 3's report died with its worker).
  ASSERT_TRUE(store_->RecordMetrics(first.run_id, 1, {{1, "loss", 5}, {2, "loss", 4}, {4, "loss", 2}, {5, "loss", 1}})
                  .ok());
  ASSERT_TRUE(store_->ReleaseWorkerAttempts(w, "lost").ok());
  const Assignment second = Claim(w);
  // Attempt 2 resumes from the checkpoint of step 3.
  ASSERT_TRUE(store_->ArchiveEarlierMetrics(second.run_id, 2, 3).ok());
  EXPECT_THAT(Series(first.run_id, "loss"), ElementsAre(Pair(1, 5.0), Pair(2, 4.0)));
  EXPECT_DOUBLE_EQ(store_->GetRun(first.run_id)->latest_metrics.at("loss"), 4.0);
  // Its history up to step 3 fills the gap only; a replay changes nothing.
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(store_->BackfillMetrics(second.run_id, 2, {{1, "loss", 5}, {2, "loss", 4}, {3, "loss", 3}}).ok());
  }
  ASSERT_TRUE(store_->RecordMetrics(second.run_id, 2, {{4, "loss", 2.5}, {5, "loss", 1.5}}).ok());
  EXPECT_THAT(Series(first.run_id, "loss"),
              ElementsAre(Pair(1, 5.0), Pair(2, 4.0), Pair(3, 3.0), Pair(4, 2.5), Pair(5, 1.5)));
  EXPECT_DOUBLE_EQ(store_->GetRun(first.run_id)->latest_metrics.at("loss"), 1.5);
  // The abandoned points are kept, archived; each stored point is stored once.
  ASSERT_TRUE(Sql("DO $$ BEGIN IF (SELECT count(*) FROM metrics WHERE archived) <> 2 "
                  "OR (SELECT count(*) FROM metrics) <> 7 THEN RAISE 'unexpected counts'; END IF; END $$")
                  .ok());
  // Replayed start: idempotent.
  ASSERT_TRUE(store_->ArchiveEarlierMetrics(second.run_id, 2, 3).ok());
  EXPECT_EQ(Series(first.run_id, "loss").size(), 5u);
  // A superseded attempt can neither archive nor backfill.
  EXPECT_EQ(store_->BackfillMetrics(first.run_id, 1, {{3, "loss", 9}}).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->ArchiveEarlierMetrics(first.run_id, 1, 0).code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(RecoveryStoreTest, StartFromScratchArchivesEveryEarlierPoint) {
  CreateRuns({MakeRun("a")});
  const int64_t w = Worker("w");
  const Assignment first = Claim(w);
  ASSERT_TRUE(store_->RecordMetrics(first.run_id, 1, {{0, "params", 10}, {1, "loss", 5}}).ok());
  ASSERT_TRUE(store_->ReleaseWorkerAttempts(w, "lost").ok());
  const Assignment second = Claim(w);
  ASSERT_TRUE(store_->ArchiveEarlierMetrics(second.run_id, 2, 0).ok());
  EXPECT_TRUE(Series(first.run_id, "loss").empty());
  EXPECT_TRUE(Series(first.run_id, "params").empty());
  EXPECT_TRUE(store_->GetRun(first.run_id)->latest_metrics.empty());
}

TEST_F(RecoveryStoreTest, NumberedLogLinesAreStoredOnce) {
  CreateRuns({MakeRun("a")});
  const int64_t w = Worker("w");
  const Assignment a = Claim(w);
  ASSERT_TRUE(store_->AppendLogs(a.run_id, 1, {"one", "two"}, 1).ok());
  ASSERT_TRUE(store_->AppendLogs(a.run_id, 1, {"one", "two"}, 1).ok());  // replayed
  ASSERT_TRUE(store_->AppendLogs(a.run_id, 1, {"two", "three"}, 2).ok());  // overlapping resend
  EXPECT_THAT(store_->TailLogs(a.run_id, 10).value(), ElementsAre("one", "two", "three"));
}

TEST_F(RecoveryStoreTest, ReleaseKeepsTheRunsAWorkerStillHas) {
  CreateRuns({MakeRun("a"), MakeRun("b")});
  const int64_t w = Worker("w");
  const Assignment a = Claim(w);
  const Assignment b = Claim(w);
  EXPECT_THAT(store_->WorkersWithRunningAttempts().value(), ElementsAre(Pair(w, "w")));
  ASSERT_TRUE(store_->ReleaseWorkerAttempts(w, "restarted without it", {a.run_id}).ok());
  EXPECT_EQ(store_->GetRun(a.run_id)->state, RunState::kRunning);
  EXPECT_EQ(store_->GetRun(b.run_id)->state, RunState::kQueued);
  ASSERT_TRUE(store_->ReleaseWorkerAttempts(w, "lost").ok());
  EXPECT_TRUE(store_->WorkersWithRunningAttempts()->empty());
}

}  // namespace
}  // namespace gwo::server::testing
