// Store against a real PostgreSQL: the scheduler's queue snapshot, claims of a
// chosen run (also from several store instances at once), stages and preemption.
#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/scheduler.h"
#include "tests/server/store/postgres_fixture.h"

namespace gwo::server::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class QueueTest : public PostgresTest {
 protected:
  ExperimentRecord Create(const std::vector<NewRun>& runs) {
    absl::StatusOr<ExperimentRecord> e = store_->CreateExperiment("exp", "", "", runs, nullptr);
    EXPECT_TRUE(e.ok()) << e.status();
    return e.ok() ? *e : ExperimentRecord{};
  }
  int64_t RunId(int64_t experiment, const std::string& name) {
    const std::vector<RunRecord> runs = store_->ListRuns(experiment).value();
    for (const RunRecord& r : runs) {
      if (r.name == name) return r.id;
    }
    ADD_FAILURE() << "no run " << name;
    return 0;
  }
};

TEST_F(QueueTest, SnapshotCarriesResourcesAndDependencies) {
  NewRun base = MakeRun("base", 3);
  base.project = "vision";
  base.gpus = 2;
  base.gpu_memory_bytes = int64_t{40} << 30;
  NewRun stage = MakeRun("stage");
  stage.project = "vision";  // an experiment's runs share its project
  stage.depends_on = {"base"};
  const ExperimentRecord e = Create({base, stage});
  absl::StatusOr<QueueSnapshot> q = store_->ReadQueue();
  ASSERT_TRUE(q.ok()) << q.status();
  ASSERT_EQ(q->queued.size(), 2u);
  EXPECT_EQ(q->queued[0].project, "vision");
  EXPECT_EQ(q->queued[0].gpus, 2);
  EXPECT_EQ(q->queued[0].gpu_memory_bytes, int64_t{40} << 30);
  EXPECT_EQ(q->queued[0].priority, 3);
  EXPECT_TRUE(q->queued[0].depends_on.empty());
  ASSERT_EQ(q->queued[1].depends_on.size(), 1u);
  EXPECT_EQ(q->queued[1].depends_on[0].run_id, RunId(e.id, "base"));
  EXPECT_EQ(q->queued[1].depends_on[0].state, RunState::kQueued);
  EXPECT_TRUE(q->running.empty());
}

TEST_F(QueueTest, DependencyOnAnUnknownRunIsRefused) {
  NewRun stage = MakeRun("stage");
  stage.depends_on = {"nope"};
  absl::StatusOr<ExperimentRecord> e = store_->CreateExperiment("exp", "", "", {stage}, nullptr);
  EXPECT_TRUE(absl::IsInvalidArgument(e.status())) << e.status();
}

TEST_F(QueueTest, ClaimRunRecordsGpusAndResolvedSpec) {
  const ExperimentRecord e = Create({MakeRun("a")});
  const int64_t w = Worker("w");
  const int64_t id = RunId(e.id, "a");
  absl::StatusOr<std::optional<Assignment>> a = store_->ClaimRun(id, w, {1, 3}, "resolved spec");
  ASSERT_TRUE(a.ok() && a->has_value()) << a.status();
  EXPECT_EQ((*a)->attempt, 1);
  EXPECT_EQ((*a)->spec_yaml, "resolved spec");
  EXPECT_THAT((*a)->gpus, ElementsAre(1, 3));
  EXPECT_EQ(store_->GetRun(id)->spec_yaml, "resolved spec");
  QueueSnapshot q = store_->ReadQueue().value();
  ASSERT_EQ(q.running.size(), 1u);
  EXPECT_THAT(q.running[0].gpus, ElementsAre(1, 3));
  EXPECT_EQ(q.running[0].worker_id, w);
  // Claimed once: a second claim gets nothing.
  EXPECT_FALSE(store_->ClaimRun(id, w, {}, "").value().has_value());
}

TEST_F(QueueTest, FailQueuedRunFailsOnlyAQueuedRun) {
  const ExperimentRecord e = Create({MakeRun("a"), MakeRun("b")});
  const int64_t a = RunId(e.id, "a");
  EXPECT_TRUE(store_->FailQueuedRun(a, "dependency run 1 failed").value());
  EXPECT_EQ(store_->GetRun(a)->state, RunState::kFailed);
  EXPECT_EQ(store_->GetRun(a)->error, "dependency run 1 failed");
  EXPECT_FALSE(store_->FailQueuedRun(a, "again").value());
  ASSERT_TRUE(store_->ClaimRun(RunId(e.id, "b"), Worker("w"), {}, "").value().has_value());
  EXPECT_FALSE(store_->FailQueuedRun(RunId(e.id, "b"), "running").value());
}

TEST_F(QueueTest, PreemptedAttemptRequeuesWithoutUsingARestart) {
  const ExperimentRecord e = Create({MakeRun("a", 0, /*max_restarts=*/0)});
  const int64_t id = RunId(e.id, "a");
  const int64_t w = Worker("w");
  ASSERT_TRUE(store_->ClaimRun(id, w, {0}, "").value().has_value());
  ASSERT_TRUE(store_->RequestPreemption(id, 1).ok());
  EXPECT_TRUE(store_->ReadQueue()->running[0].preempt_requested);
  ASSERT_TRUE(store_->FinishAttempt(id, 1, RunState::kCancelled, "").ok());
  RunRecord r = store_->GetRun(id).value();
  EXPECT_EQ(r.state, RunState::kQueued);
  EXPECT_EQ(r.worker, "");
  // With max_restarts 0, a lost second attempt would fail the run unless the
  // preempted one is not counted.
  ASSERT_TRUE(store_->ClaimRun(id, w, {0}, "").value().has_value());
  ASSERT_TRUE(store_->ReleaseWorkerAttempts(w, "worker lost").ok());
  EXPECT_EQ(store_->GetRun(id)->state, RunState::kFailed);  // 1 + 0 restarts used up by the lost one
  EXPECT_EQ(store_->GetExperiment(e.id)->state, ExperimentState::kFailed);
}

TEST_F(QueueTest, PreemptedAttemptThatSucceededAnywayStaysSucceeded) {
  const ExperimentRecord e = Create({MakeRun("a")});
  const int64_t id = RunId(e.id, "a");
  ASSERT_TRUE(store_->ClaimRun(id, Worker("w"), {}, "").value().has_value());
  ASSERT_TRUE(store_->RequestPreemption(id, 1).ok());
  ASSERT_TRUE(store_->FinishAttempt(id, 1, RunState::kSucceeded, "").ok());
  EXPECT_EQ(store_->GetRun(id)->state, RunState::kSucceeded);
}

TEST_F(QueueTest, PreemptionOfASupersededAttemptIsRefused) {
  const ExperimentRecord e = Create({MakeRun("a")});
  const int64_t id = RunId(e.id, "a");
  EXPECT_TRUE(absl::IsFailedPrecondition(store_->RequestPreemption(id, 1)));
}

// Several coordinators on one database: each has its own store (own connection
// pool) and its own workers, reads the queue, runs the scheduler and claims what
// it placed, all at once. Every run must be claimed exactly once.
TEST_F(QueueTest, ConcurrentCoordinatorsClaimEachRunExactlyOnce) {
  constexpr int kRuns = 300;
  constexpr int kCoordinators = 6;
  std::vector<NewRun> runs;
  for (int i = 0; i < kRuns; ++i) runs.push_back(MakeRun("r" + std::to_string(i), i % 3));
  Create(runs);
  std::vector<std::unique_ptr<Store>> stores;
  std::vector<int64_t> workers;
  for (int c = 0; c < kCoordinators; ++c) {
    absl::StatusOr<std::unique_ptr<Store>> s = Store::Open(server()->url(), 4);
    ASSERT_TRUE(s.ok()) << s.status();
    stores.push_back(std::move(*s));
    workers.push_back(Worker("w" + std::to_string(c)));
  }
  std::mutex mu;
  std::vector<int64_t> claimed;
  std::atomic<int> lost_races{0};
  std::atomic<int> first_reads{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < kCoordinators; ++c) {
    threads.emplace_back([&, c] {
      for (bool first = true;; first = false) {
        absl::StatusOr<QueueSnapshot> q = stores[c]->ReadQueue();
        ASSERT_TRUE(q.ok()) << q.status();
        if (first) {
          // All first passes plan from the same full queue, so they race for the
          // same runs: contention is certain, not left to thread timing.
          ++first_reads;
          while (first_reads.load() < kCoordinators) std::this_thread::yield();
        }
        if (q->queued.empty()) return;
        // This coordinator's one worker, with room for 10 runs per pass.
        ClusterState state;
        state.workers.push_back({workers[c], "w", 10, {}});
        for (const QueueSnapshot::Queued& r : q->queued) {
          QueuedRun run;
          run.run_id = r.run_id;
          run.priority = r.priority;
          state.queued.push_back(run);
        }
        for (const Placement& p : Schedule(state).placements) {
          absl::StatusOr<std::optional<Assignment>> a = stores[c]->ClaimRun(p.run_id, p.worker_id, {}, "");
          ASSERT_TRUE(a.ok()) << a.status();
          if (!a->has_value()) {
            ++lost_races;
            continue;
          }
          std::lock_guard<std::mutex> lock(mu);
          claimed.push_back((*a)->run_id);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(claimed.size(), static_cast<size_t>(kRuns));
  EXPECT_EQ(std::set<int64_t>(claimed.begin(), claimed.end()).size(), static_cast<size_t>(kRuns));
  int attempts = 0;
  for (int64_t w : workers) attempts += static_cast<int>(stores[0]->RunningAttempts(w)->size());
  EXPECT_EQ(attempts, kRuns);
  // The first passes planned the same 10 runs: all but one claim of each lost.
  EXPECT_GE(lost_races.load(), 10 * (kCoordinators - 1));
}

}  // namespace
}  // namespace gwo::server::testing
