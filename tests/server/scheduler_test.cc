#include "server/scheduler.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gwo::server {
namespace {

struct SlotCase {
  const char* name;
  std::vector<WorkerCapacity> workers;
  std::vector<int64_t> expected;
};

class PlanSlotOrderTest : public ::testing::TestWithParam<SlotCase> {};

TEST_P(PlanSlotOrderTest, GivesExpectedOrder) {
  EXPECT_EQ(PlanSlotOrder(GetParam().workers), GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(
    Table, PlanSlotOrderTest,
    ::testing::Values(
        SlotCase{"NoWorkersGetNothing", {}, {}},
        SlotCase{"FullWorkerGetsNothing", {{1, 2, 2}}, {}},
        SlotCase{"OneWorkerGetsEachFreeSlot", {{1, 3, 1}}, {1, 1}},
        SlotCase{"WorkersTakeTurns", {{1, 2, 0}, {2, 2, 0}}, {1, 2, 1, 2}},
        SlotCase{"MostFreeSlotsGoesFirst", {{1, 2, 1}, {2, 3, 0}}, {2, 1, 2, 2}},
        SlotCase{"TiesBreakByWorkerId", {{7, 1, 0}, {3, 1, 0}}, {3, 7}},
        SlotCase{"OverfullWorkerIsSkipped", {{1, 1, 3}, {2, 1, 0}}, {2}}),
    [](const ::testing::TestParamInfo<SlotCase>& info) { return std::string(info.param.name); });

// --- Schedule ---

constexpr int64_t kGiB = int64_t{1} << 30;

WorkerState Cpu(int64_t id, int slots) { return {id, absl::StrCat("w", id), slots, {}}; }
// A worker with `n` GPUs of `gib` GiB each, one slot per GPU.
WorkerState Gpus(int64_t id, int n, int64_t gib = 80) {
  WorkerState w{id, absl::StrCat("w", id), n, {}};
  for (int i = 0; i < n; ++i) w.gpus.push_back({i, gib * kGiB});
  return w;
}
QueuedRun Q(int64_t id, int priority = 0, std::string project = "", int gpus = 0, int64_t mem_gib = 0) {
  QueuedRun q;
  q.run_id = id;
  q.name = absl::StrCat("r", id);
  q.project = std::move(project);
  q.priority = priority;
  q.gpus = gpus;
  q.gpu_memory_bytes = mem_gib * kGiB;
  q.total_steps = 100;
  return q;
}
QueuedRun After(QueuedRun q, int64_t dep, const std::string& state) {
  q.depends_on.push_back({dep, absl::StrCat("baseline/brown/seed", dep), state});
  return q;
}
RunningAttempt R(int64_t id, int64_t worker, int priority = 0, std::vector<int> gpus = {}, std::string project = "",
                 double started = 0, bool stopping = false) {
  RunningAttempt a;
  a.run_id = id;
  a.attempt = 1;
  a.worker_id = worker;
  a.name = absl::StrCat("r", id);
  a.project = std::move(project);
  a.priority = priority;
  a.gpus = std::move(gpus);
  a.started_s = started;
  a.stopping = stopping;
  return a;
}

// Decisions as lines: "place 3 -> 1 [0,1]", "preempt 5@1 for 7", "fail 4: ...",
// "wait #1 2: reason".
std::vector<std::string> Render(const Decisions& d) {
  std::vector<std::string> out;
  for (const Placement& p : d.placements) {
    out.push_back(absl::StrCat("place ", p.run_id, " -> ", p.worker_id,
                               p.gpus.empty() ? "" : absl::StrCat(" [", absl::StrJoin(p.gpus, ","), "]")));
  }
  for (const Preemption& p : d.preemptions) {
    out.push_back(absl::StrCat("preempt ", p.run_id, "@", p.worker_id, " for ", p.for_run_id));
  }
  for (const RunToFail& f : d.to_fail) out.push_back(absl::StrCat("fail ", f.run_id, ": ", f.reason));
  for (const WaitingRun& w : d.waiting) out.push_back(absl::StrCat("wait #", w.position, " ", w.run_id, ": ", w.reason));
  return out;
}

struct Case {
  const char* name;
  ClusterState state;
  std::vector<std::string> expected;
};

class ScheduleTest : public ::testing::TestWithParam<Case> {};

TEST_P(ScheduleTest, DecidesAsExpected) {
  EXPECT_THAT(Render(Schedule(GetParam().state)), ::testing::ElementsAreArray(GetParam().expected));
}

INSTANTIATE_TEST_SUITE_P(
    Table, ScheduleTest,
    ::testing::Values(
        Case{"EmptyQueueDecidesNothing", {{Cpu(1, 2)}, {}, {}, {}}, {}},
        Case{"NoWorkerMeansWaitingWithReason", {{}, {}, {Q(1)}, {}}, {"wait #1 1: no worker connected"}},
        Case{"CpuRunsSpreadOverWorkers",
             {{Cpu(1, 2), Cpu(2, 2)}, {}, {Q(1), Q(2), Q(3)}, {}},
             {"place 1 -> 1", "place 2 -> 2", "place 3 -> 1"}},
        Case{"FullWorkerLeavesRunQueuedForASlot",
             {{Cpu(1, 1)}, {R(9, 1)}, {Q(1)}, {}},
             {"wait #1 1: no free worker slot"}},
        Case{"HigherPriorityIsPlacedFirst",
             {{Cpu(1, 1)}, {}, {Q(1, 0), Q(2, 5)}, {}},
             {"place 2 -> 1", "wait #1 1: behind higher priority (run 2, priority 5)"}},
        Case{"SamePriorityGoesOldestFirst",
             {{Cpu(1, 1)}, {}, {Q(2), Q(1)}, {}},
             {"place 1 -> 1", "wait #1 2: no free worker slot"}},
        Case{"GangRunTakesAllItsGpusOnOneWorker",
             {{Gpus(1, 4)}, {}, {Q(1, 0, "", 2)}, {}},
             {"place 1 -> 1 [0,1]"}},
        Case{"GangRunNeverSplitsAcrossWorkers",
             {{Gpus(1, 1), Gpus(2, 1)}, {}, {Q(1, 0, "", 2)}, {}},
             {"wait #1 1: no worker can hold it: needs 2 GPUs on one worker"}},
        Case{"GangRunWaitsForEnoughFreeGpus",
             {{Gpus(1, 2)}, {R(9, 1, 0, {0})}, {Q(1, 0, "", 2)}, {}},
             {"wait #1 1: no worker with 2 GPUs free"}},
        Case{"BestFitKeepsTheBigWorkerForTheBigRun",
             {{Gpus(1, 4), Gpus(2, 1)}, {}, {Q(1, 0, "", 1), Q(2, 0, "", 4)}, {}},
             {"place 1 -> 2 [0]", "place 2 -> 1 [0,1,2,3]"}},
        Case{"SmallRunBackfillsPastAGangRunThatDoesNotFit",
             {{Gpus(1, 2)}, {R(9, 1, 0, {0})}, {Q(1, 0, "", 2), Q(2, 0, "", 1)}, {}},
             {"place 2 -> 1 [1]", "wait #1 1: no worker with 2 GPUs free"}},
        Case{"RunIsNotPlacedWhereItsMemoryDoesNotFit",
             {{Gpus(1, 1, 24), Gpus(2, 1, 80)}, {}, {Q(1, 0, "", 1, 40)}, {}},
             {"place 1 -> 2 [0]"}},
        Case{"RunTooBigForEveryGpuSaysSo",
             {{Gpus(1, 2, 24)}, {}, {Q(1, 0, "", 1, 40)}, {}},
             {"wait #1 1: no worker can hold it: needs 1 GPU of >= 40 GiB on one worker"}},
        Case{"SmallestGpuThatHoldsTheRunIsUsed",
             {{{1, "w1", 2, {{0, 80 * kGiB}, {1, 24 * kGiB}}}}, {}, {Q(1, 0, "", 1, 16)}, {}},
             {"place 1 -> 1 [1]"}},
        Case{"FairShareAlternatesProjects",
             {{Cpu(1, 4)}, {}, {Q(1, 0, "a"), Q(2, 0, "a"), Q(3, 0, "a"), Q(4, 0, "b"), Q(5, 0, "b")}, {}},
             {"place 1 -> 1", "place 4 -> 1", "place 2 -> 1", "place 5 -> 1", "wait #1 3: no free worker slot"}},
        Case{"FairShareFollowsWeights",
             {{Cpu(1, 4)},
              {},
              {Q(1, 0, "a"), Q(2, 0, "a"), Q(3, 0, "a"), Q(4, 0, "a"), Q(5, 0, "b"), Q(6, 0, "b")},
              {{"a", 2}}},
             {"place 1 -> 1", "place 5 -> 1", "place 2 -> 1", "place 3 -> 1", "wait #1 6: no free worker slot",
              "wait #2 4: fair share: project a over its share (uses 3 of 2.67)"}},
        Case{"ProjectUnderItsShareGoesFirst",
             {{Cpu(1, 2)}, {R(8, 1, 0, {}, "a")}, {Q(1, 0, "a"), Q(2, 0, "b")}, {}},
             {"place 2 -> 1", "wait #1 1: no free worker slot"}},
        Case{"ProjectOverItsShareIsToldSo",
             {{Cpu(1, 2)}, {R(8, 1, 0, {}, "a"), R(9, 1, 0, {}, "a")}, {Q(1, 0, "a"), Q(2, 0, "b")}, {}},
             {"wait #1 2: no free worker slot", "wait #2 1: fair share: project a over its share (uses 2 of 1)"}},
        Case{"PriorityBeatsFairShare",
             {{Cpu(1, 1)}, {}, {Q(1, 0, "b"), Q(2, 3, "a")}, {}},
             {"place 2 -> 1", "wait #1 1: behind higher priority (run 2, priority 3)"}},
        Case{"StageWaitsForItsDependency",
             {{Cpu(1, 2)}, {}, {After(Q(2), 1, "running")}, {}},
             {"wait #1 2: waiting for run 1 (baseline/brown/seed1)"}},
        Case{"StageStartsOnceItsDependencySucceeded",
             {{Cpu(1, 2)}, {}, {After(Q(2), 1, "succeeded")}, {}},
             {"place 2 -> 1"}},
        Case{"StageFailsWhenItsDependencyFailed",
             {{Cpu(1, 2)}, {}, {After(Q(2), 1, "failed")}, {}},
             {"fail 2: dependency run 1 (baseline/brown/seed1) failed; this stage cannot start"}},
        Case{"StageFailsWhenItsDependencyWasCancelled",
             {{Cpu(1, 2)}, {}, {After(Q(2), 1, "cancelled")}, {}},
             {"fail 2: dependency run 1 (baseline/brown/seed1) cancelled; this stage cannot start"}},
        Case{"BlockedStagesComeAfterRunsThatCanStart",
             {{Cpu(1, 1)}, {R(9, 1)}, {After(Q(1, 5), 7, "queued"), Q(2)}, {}},
             {"wait #1 2: no free worker slot", "wait #2 1: waiting for run 7 (baseline/brown/seed7)"}},
        Case{"RunInItsRequeueBackoffWaits",
             {{Cpu(1, 2)}, {}, {[] { QueuedRun q = Q(1); q.backoff_s = 4.2; return q; }(), Q(2)}, {}},
             {"place 2 -> 1", "wait #1 1: retrying after a lost or failed attempt in 5 s (requeue backoff)"}},
        Case{"HigherPriorityPreemptsLowerPriority",
             {{Gpus(1, 1)}, {R(9, 1, 0, {0})}, {Q(1, 5, "", 1)}, {}},
             {"preempt 9@1 for 1", "wait #1 1: preempting run 9 (r9, priority 0)"}},
        Case{"EqualPriorityDoesNotPreempt",
             {{Gpus(1, 1)}, {R(9, 1, 5, {0})}, {Q(1, 5, "", 1)}, {}},
             {"wait #1 1: no worker with 1 GPU free"}},
        Case{"PreemptionStopsTheNewestOfTheLowestPriority",
             {{Gpus(1, 2)}, {R(8, 1, 0, {0}, "", 1), R(9, 1, 0, {1}, "", 2)}, {Q(1, 5, "", 1)}, {}},
             {"preempt 9@1 for 1", "wait #1 1: preempting run 9 (r9, priority 0)"}},
        Case{"PreemptionStopsOnlyLowestPriorityAttemptsItNeeds",
             {{{1, "w1", 3, {{0, 80 * kGiB}, {1, 80 * kGiB}}}},
              {R(7, 1, 1, {0}, "", 10), R(8, 1, 0, {1}, "", 5), R(9, 1, 0, {}, "", 20)},
              {Q(1, 5, "", 1)},
              {}},
             {"preempt 8@1 for 1", "wait #1 1: preempting run 8 (r8, priority 0)"}},
        Case{"GangPreemptionStopsEnoughAttemptsOnOneWorker",
             {{Gpus(1, 2)}, {R(8, 1, 0, {0}, "", 1), R(9, 1, 0, {1}, "", 2)}, {Q(1, 5, "", 2)}, {}},
             {"preempt 9@1 for 1", "preempt 8@1 for 1",
              "wait #1 1: preempting run 9 (r9, priority 0), run 8 (r8, priority 0)"}},
        Case{"StoppingAttemptIsNotPreemptedTwice",
             {{Gpus(1, 2)}, {R(8, 1, 0, {0}, "", 1, /*stopping=*/true), R(9, 1, 0, {1})}, {Q(1, 5, "", 1)}, {}},
             {"wait #1 1: waiting for a preempted run to stop on worker w1"}},
        Case{"PreemptionNeverStopsMoreThanOneRunNeeds",
             {{Gpus(1, 2)}, {R(8, 1, 0, {0}), R(9, 1, 0, {1})}, {Q(1, 5, "", 1), Q(2, 5, "", 1)}, {}},
             {"preempt 9@1 for 1", "preempt 8@1 for 2", "wait #1 1: preempting run 9 (r9, priority 0)",
              "wait #2 2: preempting run 8 (r8, priority 0)"}},
        Case{"NoPreemptionForARunThatCanNeverFit",
             {{Gpus(1, 1, 24)}, {R(9, 1, 0, {0})}, {Q(1, 5, "", 1, 40)}, {}},
             {"wait #1 1: no worker can hold it: needs 1 GPU of >= 40 GiB on one worker"}}),
    [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

// --- EstimateStarts ---

TEST(EstimateStartsTest, UnknownWithoutAnObservedRate) {
  ClusterState s{{Cpu(1, 1)}, {R(9, 1)}, {Q(1)}, {}};
  Decisions d = Schedule(s);
  EstimateStarts(s, &d);
  ASSERT_EQ(d.waiting.size(), 1u);
  EXPECT_FALSE(d.waiting[0].eta_s.has_value());
}

TEST(EstimateStartsTest, QueuedRunsStartWhenSlotsFreeInOrder) {
  RunningAttempt a = R(9, 1);
  a.step = 50;
  a.total_steps = 100;
  a.steps_per_s = 10;  // 5 s left
  ClusterState s{{Cpu(1, 1)}, {a}, {Q(1), Q(2)}, {}};  // 100 steps each: 10 s
  Decisions d = Schedule(s);
  EstimateStarts(s, &d);
  ASSERT_EQ(d.waiting.size(), 2u);
  EXPECT_DOUBLE_EQ(d.waiting[0].eta_s.value(), 5);
  EXPECT_DOUBLE_EQ(d.waiting[1].eta_s.value(), 15);
}

TEST(EstimateStartsTest, StageStartsAfterItsDependencyEnds) {
  RunningAttempt a = R(7, 1);
  a.step = 80;
  a.total_steps = 100;
  a.steps_per_s = 4;  // 5 s left
  ClusterState s{{Cpu(1, 2)}, {a}, {After(Q(2), 7, "running")}, {}};
  Decisions d = Schedule(s);
  EstimateStarts(s, &d);
  ASSERT_EQ(d.waiting.size(), 1u);
  EXPECT_DOUBLE_EQ(d.waiting[0].eta_s.value(), 5);
}

TEST(EstimateStartsTest, RunNoWorkerCanHoldHasNoEstimate) {
  RunningAttempt a = R(9, 1, 0, {0});
  a.steps_per_s = 1;
  a.total_steps = 10;
  ClusterState s{{Gpus(1, 1)}, {a}, {Q(1, 0, "", 2)}, {}};
  Decisions d = Schedule(s);
  EstimateStarts(s, &d);
  ASSERT_EQ(d.waiting.size(), 1u);
  EXPECT_FALSE(d.waiting[0].eta_s.has_value());
}

}  // namespace
}  // namespace gwo::server
