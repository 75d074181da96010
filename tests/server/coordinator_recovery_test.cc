// The coordinator's attempt lifecycle against a real PostgreSQL, with recording
// stand-ins for worker streams: a dropped stream keeps its attempts until the
// lease ends, a reconnect within the lease reattaches them, a superseded attempt's
// report is refused (and its worker told to stop it), and a report that cannot be
// stored is not acknowledged.
#include <mutex>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/coordinator.h"
#include "tests/server/store/postgres_fixture.h"

namespace gwo::server::testing {
namespace {

// Records what the coordinator asks of one worker connection.
class RecordingChannel final : public WorkerChannel {
 public:
  void Assign(const Assignment& a) override {
    std::lock_guard<std::mutex> lock(mu_);
    assigned.push_back(a);
  }
  void Stop(int64_t run_id, int attempt, const std::string&) override {
    std::lock_guard<std::mutex> lock(mu_);
    stopped.push_back({run_id, attempt});
  }
  void Disconnect(const std::string&) override { disconnected = true; }

  std::mutex mu_;
  std::vector<Assignment> assigned;
  std::vector<AttemptKey> stopped;
  bool disconnected = false;
};

constexpr char kJob[] =
    "name: lease\n"
    "datasets:\n"
    "  - name: d\n"
    "    path: /usr/lib/python3.11\n"
    "    glob: \"*.py\"\n"
    "    max_bytes: 10000\n";

class CoordinatorRecoveryTest : public PostgresTest {
 protected:
  void SetUp() override {
    PostgresTest::SetUp();
    CoordinatorOptions o;
    o.worker_lease = absl::Milliseconds(300);
    o.requeue_backoff = absl::ZeroDuration();
    core_ = std::make_unique<Coordinator>(store_.get(), o);
  }
  int64_t Register(const std::string& name, const std::vector<AttemptKey>& running, RecordingChannel* ch) {
    absl::StatusOr<int64_t> id = core_->RegisterWorker({name, "host", "[]", 1}, running, ch);
    EXPECT_TRUE(id.ok()) << id.status();
    return id.ok() ? *id : 0;
  }
  RunRecord TheRun() { return store_->ListRuns(experiment_).value().at(0); }
  // Submits kJob with `ch` the only worker's channel; the id of its run (0 on failure).
  int64_t SubmitTo(RecordingChannel& ch) {
    absl::StatusOr<SubmitResult> submitted = core_->Submit(kJob, "job.yaml", "");
    EXPECT_TRUE(submitted.ok()) << submitted.status();
    if (!submitted.ok() || ch.assigned.size() != 1) return 0;
    experiment_ = submitted->experiment.id;
    return ch.assigned[0].run_id;
  }

  std::unique_ptr<Coordinator> core_;
  int64_t experiment_ = 0;
};

TEST_F(CoordinatorRecoveryTest, DroppedStreamKeepsAttemptsUntilTheLeaseEnds) {
  RecordingChannel a1;
  const int64_t wa = Register("wa", {}, &a1);
  const int64_t run = SubmitTo(a1);
  ASSERT_GT(run, 0);

  // The stream drops and comes back within the lease: the same attempt goes on.
  core_->WorkerGone(wa, &a1);
  core_->Sweep();
  EXPECT_EQ(TheRun().state, RunState::kRunning);
  RecordingChannel a2;
  Register("wa", {{run, 1}}, &a2);
  EXPECT_TRUE(a2.stopped.empty());
  EXPECT_TRUE(a2.assigned.empty());
  EXPECT_EQ(TheRun().attempt, 1);
  EXPECT_TRUE(core_->OnMetrics(wa, run, 1, {{1, "train_loss", 3.0}}, false).ok());

  // Silent past the lease: the attempt is lost and the run goes to another worker.
  core_->WorkerGone(wa, &a2);
  absl::SleepFor(absl::Milliseconds(400));
  RecordingChannel b;
  const int64_t wb = Register("wb", {}, &b);
  EXPECT_TRUE(b.assigned.empty()) << "claimed before the lease ended";
  core_->Sweep();
  ASSERT_EQ(b.assigned.size(), 1u);
  EXPECT_EQ(b.assigned[0].attempt, 2);
  EXPECT_EQ(TheRun().worker, "wb");

  // The first worker comes back late: its attempt is stopped, its reports refused
  // (and acknowledged, so they leave its spool).
  RecordingChannel a3;
  Register("wa", {{run, 1}}, &a3);
  EXPECT_THAT(a3.stopped, ::testing::ElementsAre(AttemptKey{run, 1}));
  EXPECT_TRUE(core_->OnMetrics(wa, run, 1, {{2, "train_loss", 2.0}}, false).ok());
  EXPECT_EQ(a3.stopped.size(), 2u);
  EXPECT_TRUE(core_->OnAttemptFinished(wa, run, 1, RunState::kSucceeded, "", false).ok());
  EXPECT_EQ(TheRun().state, RunState::kRunning);
  EXPECT_EQ(TheRun().attempt, 2);
  EXPECT_TRUE(core_->OnAttemptFinished(wb, run, 2, RunState::kSucceeded, "", false).ok());
  EXPECT_EQ(TheRun().state, RunState::kSucceeded);
}

TEST_F(CoordinatorRecoveryTest, RestartedCoordinatorWaitsALeaseForItsWorkers) {
  RecordingChannel a1;
  const int64_t wa = Register("wa", {}, &a1);
  const int64_t run = SubmitTo(a1);
  ASSERT_GT(run, 0);
  core_->WorkerGone(wa, &a1);

  // A new coordinator over the same database.
  CoordinatorOptions o;
  o.worker_lease = absl::Milliseconds(300);
  core_ = std::make_unique<Coordinator>(store_.get(), o);
  ASSERT_TRUE(core_->Recover().ok());
  core_->Sweep();
  EXPECT_EQ(TheRun().state, RunState::kRunning);
  RecordingChannel a2;
  Register("wa", {{run, 1}}, &a2);
  EXPECT_TRUE(a2.stopped.empty());
  absl::SleepFor(absl::Milliseconds(400));
  core_->Heartbeat(wa);
  core_->Sweep();
  EXPECT_EQ(TheRun().attempt, 1);
  EXPECT_EQ(TheRun().state, RunState::kRunning);

  // Never back after a restart: lost once the lease ends.
  core_ = std::make_unique<Coordinator>(store_.get(), o);
  ASSERT_TRUE(core_->Recover().ok());
  absl::SleepFor(absl::Milliseconds(400));
  core_->Sweep();
  EXPECT_EQ(TheRun().state, RunState::kQueued);
}

TEST_F(CoordinatorRecoveryTest, ReportThatCannotBeStoredIsNotAcknowledged) {
  RecordingChannel a1;
  const int64_t wa = Register("wa", {}, &a1);
  const int64_t run = SubmitTo(a1);
  ASSERT_GT(run, 0);
  ASSERT_TRUE(server()->Stop().ok());
  EXPECT_TRUE(absl::IsUnavailable(core_->OnMetrics(wa, run, 1, {{1, "train_loss", 3.0}}, false)));
  EXPECT_TRUE(absl::IsUnavailable(core_->OnAttemptFinished(wa, run, 1, RunState::kSucceeded, "", false)));
  ASSERT_TRUE(server()->Restart().ok());
  EXPECT_TRUE(core_->OnMetrics(wa, run, 1, {{1, "train_loss", 3.0}}, false).ok());
  EXPECT_TRUE(core_->OnAttemptFinished(wa, run, 1, RunState::kSucceeded, "", false).ok());
  EXPECT_EQ(TheRun().state, RunState::kSucceeded);
  EXPECT_EQ(store_->QueryMetrics(run, {}).value().at(0).points.size(), 1u);
}

}  // namespace
}  // namespace gwo::server::testing
