// The store's reads behind the coordinator's metrics, and its error hook, on a
// real PostgreSQL.
#include <vector>

#include "gtest/gtest.h"
#include "tests/server/store/postgres_fixture.h"

namespace gwo::server::testing {
namespace {

class TelemetryStoreTest : public PostgresTest {};

TEST_F(TelemetryStoreTest, CountsRunsInEveryState) {
  absl::StatusOr<std::map<RunState, int64_t>> empty = store_->CountRunsByState();
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(empty->size(), 5u);
  for (const auto& [state, n] : *empty) EXPECT_EQ(n, 0) << RunStateName(state);

  CreateRuns({MakeRun("a"), MakeRun("b"), MakeRun("c"), MakeRun("d")});
  int64_t w = Worker("w");
  Assignment first = Claim(w);
  ASSERT_TRUE(store_->FinishAttempt(first.run_id, first.attempt, RunState::kSucceeded, "").ok());
  Assignment second = Claim(w);
  ASSERT_TRUE(store_->FinishAttempt(second.run_id, second.attempt, RunState::kFailed, "boom").ok());
  Claim(w);

  absl::StatusOr<std::map<RunState, int64_t>> counts = store_->CountRunsByState();
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ((*counts)[RunState::kQueued], 1);
  EXPECT_EQ((*counts)[RunState::kRunning], 1);
  EXPECT_EQ((*counts)[RunState::kSucceeded], 1);
  EXPECT_EQ((*counts)[RunState::kFailed], 1);
  EXPECT_EQ((*counts)[RunState::kCancelled], 0);
}

TEST_F(TelemetryStoreTest, QueueWaitRunsFromSubmissionOrThePreviousAttemptsEnd) {
  CreateRuns({MakeRun("a", 0, 3)});
  int64_t w = Worker("w");
  // Submitted 10 s ago.
  ASSERT_TRUE(Sql("UPDATE runs SET created_at = now() - interval '10 seconds'").ok());
  Assignment first = Claim(w);
  absl::StatusOr<absl::Duration> wait = store_->QueueWait(first.run_id, 1);
  ASSERT_TRUE(wait.ok()) << wait.status();
  EXPECT_GE(*wait, absl::Seconds(10));
  EXPECT_LT(*wait, absl::Seconds(12));

  // The worker is lost: the run is queued again; its first attempt ended 3 s ago.
  ASSERT_TRUE(store_->ReleaseWorkerAttempts(w, "lost").ok());
  ASSERT_TRUE(Sql("UPDATE attempts SET finished_at = now() - interval '3 seconds' WHERE attempt = 1").ok());
  Assignment second = Claim(w);
  ASSERT_EQ(second.attempt, 2);
  wait = store_->QueueWait(second.run_id, 2);
  ASSERT_TRUE(wait.ok()) << wait.status();
  EXPECT_GE(*wait, absl::Seconds(3));
  EXPECT_LT(*wait, absl::Seconds(5));

  EXPECT_EQ(store_->QueueWait(second.run_id, 3).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(TelemetryStoreTest, ErrorHookSeesEveryFailedTransaction) {
  std::vector<absl::StatusCode> seen;
  store_->set_error_hook([&](const absl::Status& s) { seen.push_back(s.code()); });
  ASSERT_TRUE(store_->CountRunsByState().ok());
  EXPECT_TRUE(seen.empty());
  EXPECT_EQ(store_->GetRun(12345).status().code(), absl::StatusCode::kNotFound);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], absl::StatusCode::kNotFound);

  // The database goes away.
  ASSERT_TRUE(server()->Stop().ok());
  absl::Status down = store_->CountRunsByState().status();
  ASSERT_TRUE(server()->Restart().ok());
  EXPECT_EQ(down.code(), absl::StatusCode::kUnavailable) << down;
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1], absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace gwo::server::testing
