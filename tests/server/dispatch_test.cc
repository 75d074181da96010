// The coordinator's scheduling against a real PostgreSQL, with workers stood in by
// channels that record what they are told: stages wait for and start from their
// dependency's checkpoint, fail with it, gang placement, preemption, the queue view.
#include <unistd.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/coordinator.h"
#include "spec/parse.h"
#include "tests/server/store/postgres_fixture.h"

namespace gwo::server::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

class RecordingChannel final : public WorkerChannel {
 public:
  void Assign(const Assignment& a) override { assigned.push_back(a); }
  void Stop(int64_t run_id, int attempt, const std::string& reason) override {
    stopped.push_back(absl::StrCat(run_id, "@", attempt, ": ", reason));
  }
  void Disconnect(const std::string&) override {}
  std::vector<Assignment> assigned;
  std::vector<std::string> stopped;
};

class DispatchTest : public PostgresTest {
 protected:
  void SetUp() override {
    PostgresTest::SetUp();
    corpus_ = absl::StrCat("/tmp/gwo-dispatch-test-", getpid(), ".txt");
    std::ofstream(corpus_) << "some text for the corpus check\n";
    core_ = std::make_unique<Coordinator>(store_.get(), CoordinatorOptions{});
  }
  void TearDown() override {
    unlink(corpus_.c_str());
    core_.reset();
  }
  std::string Job(const std::string& name, const std::string& extra) {
    return absl::StrCat("name: ", name, "\ndatasets: [{name: d, path: ", corpus_, "}]\n", extra);
  }
  SubmitResult Submit(const std::string& yaml) {
    absl::StatusOr<SubmitResult> r = core_->Submit(yaml, "job.yaml", "");
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : SubmitResult{};
  }
  int64_t Connect(const std::string& name, int slots, int gpus, RecordingChannel* channel, int64_t gib = 80) {
    WorkerInfo info;
    info.name = name;
    info.slots = slots;
    for (int i = 0; i < gpus; ++i) info.devices.push_back({"cuda", i, gib << 30});
    absl::StatusOr<int64_t> id = core_->RegisterWorker(info, {}, channel);
    EXPECT_TRUE(id.ok()) << id.status();
    return id.ok() ? *id : 0;
  }
  // Reports the attempt started (with its output dir) and finished.
  void Finish(int64_t worker, const Assignment& a, RunState state, const std::string& out = "") {
    ASSERT_TRUE(core_->OnAttemptStarted(worker, a.run_id, a.attempt,
                                        out.empty() ? absl::StrCat("/w/", a.run_id) : out, /*resumed_from=*/0)
                    .ok());
    ASSERT_TRUE(core_->OnAttemptFinished(worker, a.run_id, a.attempt, state,
                                         state == RunState::kFailed ? "boom" : "", /*retryable=*/false)
                    .ok());
  }
  std::string corpus_;
  std::unique_ptr<Coordinator> core_;
};

constexpr char kStages[] = R"(variants:
  - name: baseline
  - name: tuned
    init: {from_variant: baseline, checkpoint: best}
)";

TEST_F(DispatchTest, StageStartsFromItsDependencyCheckpointOnceItSucceeded) {
  SubmitResult s = Submit(Job("staged", kStages));
  ASSERT_THAT(s.runs, SizeIs(2));
  RecordingChannel ch;
  const int64_t w = Connect("w", 2, 0, &ch);
  // Two free slots, but the stage waits for the baseline.
  ASSERT_THAT(ch.assigned, SizeIs(1));
  EXPECT_EQ(ch.assigned[0].run_name, "baseline/d/seed0");
  absl::StatusOr<std::vector<QueueEntry>> q = core_->Queue();
  ASSERT_TRUE(q.ok()) << q.status();
  ASSERT_THAT(*q, SizeIs(1));
  EXPECT_EQ(q->at(0).reason, absl::StrCat("waiting for run ", s.runs[0].id, " (baseline/d/seed0)"));
  EXPECT_EQ(q->at(0).position, 1);

  Finish(w, ch.assigned[0], RunState::kSucceeded, "/work/out-base");
  ASSERT_THAT(ch.assigned, SizeIs(2));
  const Assignment& stage = ch.assigned[1];
  EXPECT_EQ(stage.run_name, "tuned/d/seed0");
  absl::StatusOr<spec::RunSpec> spec = spec::ParseRunSpec(stage.spec_yaml, "run.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->model.init, "/work/out-base/best.ckpt");
  EXPECT_EQ(spec->model.init_from_run, s.runs[0].id);
  EXPECT_EQ(spec->model.init_from_variant, "baseline");
  // The stored spec is the resolved one.
  EXPECT_EQ(store_->GetRun(stage.run_id)->spec_yaml, stage.spec_yaml);
}

TEST_F(DispatchTest, StageFailsWithAClearReasonWhenItsDependencyFails) {
  SubmitResult s = Submit(Job("staged", kStages));
  RecordingChannel ch;
  const int64_t w = Connect("w", 2, 0, &ch);
  ASSERT_THAT(ch.assigned, SizeIs(1));
  Finish(w, ch.assigned[0], RunState::kFailed);
  EXPECT_THAT(ch.assigned, SizeIs(1));
  RunRecord stage = store_->GetRun(s.runs[1].id).value();
  EXPECT_EQ(stage.state, RunState::kFailed);
  EXPECT_EQ(stage.error, absl::StrCat("dependency run ", s.runs[0].id,
                                      " (baseline/d/seed0) failed; this stage cannot start"));
  EXPECT_EQ(store_->GetExperiment(s.experiment.id)->state, ExperimentState::kFailed);
}

TEST_F(DispatchTest, StageFailsWhenItsDependencyIsCancelledEvenWithNoWorker) {
  SubmitResult s = Submit(Job("staged", kStages));
  ASSERT_TRUE(core_->CancelRun(s.runs[0].id).ok());
  core_->Sweep();
  EXPECT_EQ(store_->GetRun(s.runs[1].id)->state, RunState::kFailed);
  EXPECT_THAT(store_->GetRun(s.runs[1].id)->error, HasSubstr("cancelled"));
}

TEST_F(DispatchTest, GangRunGetsAllItsGpusOnOneWorker) {
  Submit(Job("gang", "resources: {gpus: 2, gpu_memory_gb: 20}\n"));
  RecordingChannel small, big;
  Connect("small", 1, 1, &small);
  EXPECT_THAT(small.assigned, IsEmpty());
  absl::StatusOr<std::vector<QueueEntry>> q = core_->Queue();
  ASSERT_THAT(*q, SizeIs(1));
  EXPECT_EQ(q->at(0).reason, "no worker can hold it: needs 2 GPUs of >= 20 GiB on one worker");
  Connect("big", 4, 4, &big);
  ASSERT_THAT(big.assigned, SizeIs(1));
  EXPECT_THAT(big.assigned[0].gpus, ElementsAre(0, 1));
}

TEST_F(DispatchTest, RunIsNotPlacedWhereItsGpuMemoryDoesNotFit) {
  Submit(Job("big-model", "resources: {gpus: 1, gpu_memory_gb: 40}\n"));
  RecordingChannel small, large;
  Connect("small", 1, 1, &small, /*gib=*/24);
  EXPECT_THAT(small.assigned, IsEmpty());
  Connect("large", 1, 1, &large, /*gib=*/80);
  EXPECT_THAT(large.assigned, SizeIs(1));
}

TEST_F(DispatchTest, HigherPriorityPreemptsAndThePreemptedRunIsRequeuedAndResumesLater) {
  SubmitResult low = Submit(Job("low", "resources: {gpus: 1, gpu_memory_gb: 1}\nmax_restarts: 0\n"));
  RecordingChannel ch;
  const int64_t w = Connect("w", 1, 1, &ch);
  ASSERT_THAT(ch.assigned, SizeIs(1));
  const Assignment first = ch.assigned[0];
  ASSERT_TRUE(core_->OnAttemptStarted(w, first.run_id, first.attempt, absl::StrCat("/w/", first.run_id), 0).ok());
  SubmitResult high = Submit(Job("high", "resources: {gpus: 1, gpu_memory_gb: 1, priority: 5}\n"));
  ASSERT_THAT(ch.stopped, SizeIs(1));
  EXPECT_EQ(ch.stopped[0], absl::StrCat(first.run_id, "@1: preempted for run ", high.runs[0].id,
                                        " of higher priority"));
  // A second pass while the attempt is stopping stops nothing more.
  core_->Sweep();
  EXPECT_THAT(ch.stopped, SizeIs(1));
  absl::StatusOr<std::vector<QueueEntry>> q = core_->Queue();
  ASSERT_THAT(*q, SizeIs(1));
  EXPECT_EQ(q->at(0).reason, "waiting for a preempted run to stop on worker w");
  // The worker stops it (gwo-train checkpoints on SIGTERM): the attempt ends cancelled.
  ASSERT_TRUE(core_->OnAttemptFinished(w, first.run_id, first.attempt, RunState::kCancelled, "",
                                       /*retryable=*/false)
                  .ok());
  EXPECT_EQ(store_->GetRun(first.run_id)->state, RunState::kQueued);
  ASSERT_THAT(ch.assigned, SizeIs(2));
  EXPECT_EQ(ch.assigned[1].run_id, high.runs[0].id);
  Finish(w, ch.assigned[1], RunState::kSucceeded);
  // The preempted run comes back as attempt 2, although it has no restarts, and
  // continues from the checkpoint its first attempt wrote when it was stopped.
  ASSERT_THAT(ch.assigned, SizeIs(3));
  EXPECT_EQ(ch.assigned[2].run_id, low.runs[0].id);
  EXPECT_EQ(ch.assigned[2].attempt, 2);
  EXPECT_THAT(ch.assigned[2].resume_dirs, ElementsAre(absl::StrCat("/w/", first.run_id)));
}

TEST_F(DispatchTest, QueueExplainsPriorityAndEstimatesNothingWithoutProgress) {
  Submit(Job("a", ""));
  Submit(Job("b", "resources: {priority: 3}\n"));
  Submit(Job("c", ""));
  absl::StatusOr<std::vector<QueueEntry>> q = core_->Queue();
  ASSERT_TRUE(q.ok()) << q.status();
  ASSERT_THAT(*q, SizeIs(3));
  EXPECT_EQ(q->at(0).name, "baseline/d/seed0");
  EXPECT_EQ(q->at(0).priority, 3);
  EXPECT_EQ(q->at(0).reason, "no worker connected");
  EXPECT_EQ(q->at(1).position, 2);
  EXPECT_FALSE(q->at(0).eta_s.has_value());
}

}  // namespace
}  // namespace gwo::server::testing
