// The scheduler: a pure function from cluster state (connected workers, running
// attempts, queued runs) to decisions (placements, preemptions, runs to fail, and
// for every queued run its position, the reason it waits and an estimated start).
// No I/O and no clock: the coordinator builds the state from the store and its
// worker sessions and applies the decisions; tests drive it with tables of cases.
//
// Policy, in the order it is applied:
// 1. Stages: a queued run waits until every run it depends on has succeeded; a
//    dependency that failed or was cancelled fails the run (RunsToFail). A run in
//    its requeue backoff waits too.
// 2. Order: higher `priority` first. Among projects whose next run has the same
//    priority, the project with the lowest usage / weight goes first (weighted fair
//    share; usage counts the GPUs of its running attempts, 1 for a CPU run); then the
//    oldest run (lowest id). Each placement adds to its project's usage.
// 3. Placement (gang): a run needing N GPUs goes to one worker with a free slot and
//    N free GPUs that each hold at least its GPU memory, all at once or not at all;
//    best fit (the worker with the fewest free GPUs that fits, then the lowest id).
//    A run that does not fit now does not block runs behind it that do fit.
// 4. Preemption: a run that fits on some worker only if attempts of strictly lower
//    priority stopped asks for those to stop (lowest priority first, then the most
//    recently started); resources of attempts already stopping are counted as
//    coming free, so no attempt is stopped twice for the same need.
#ifndef GWO_SERVER_SCHEDULER_H_
#define GWO_SERVER_SCHEDULER_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace gwo::server {

struct WorkerCapacity {
  int64_t worker_id = 0;
  int slots = 1;    // attempts it runs at once
  int running = 0;  // attempts it runs now
};

// The order in which free slots receive queued runs: one slot per entry. Workers
// take turns (the one with the most free slots first, ties by id), so a short queue
// spreads over workers instead of filling the first one.
std::vector<int64_t> PlanSlotOrder(const std::vector<WorkerCapacity>& workers);

// A GPU of a worker.
struct GpuInfo {
  int index = 0;            // CUDA device index on its host
  int64_t memory_bytes = 0;  // 0: unknown (fits any request)
};

struct WorkerState {
  int64_t id = 0;
  std::string name;
  int slots = 1;              // attempts at once
  std::vector<GpuInfo> gpus;  // empty on a CPU-only host
};

// An attempt that holds resources now.
struct RunningAttempt {
  int64_t run_id = 0;
  int attempt = 0;
  int64_t worker_id = 0;
  std::string name;
  std::string project;
  int priority = 0;
  std::vector<int> gpus;   // GPU indices it holds on its worker
  int64_t step = 0;         // progress of this attempt
  int64_t total_steps = 0;
  double steps_per_s = 0;   // observed rate (0: unknown yet)
  double started_s = 0;     // start of the attempt, seconds on the caller's clock (orders victims)
  bool stopping = false;    // asked to stop (preempted); its resources come free soon
};

// A run a queued run depends on (a stage), as it is now.
struct Dependency {
  int64_t run_id = 0;
  std::string name;  // variant/dataset/seedN
  std::string state;  // "queued", "running", "succeeded", "failed", "cancelled"
};

struct QueuedRun {
  int64_t run_id = 0;  // lower ids are older
  std::string name;
  std::string project;
  int priority = 0;
  int gpus = 0;               // 0: CPU run (needs a slot only)
  int64_t gpu_memory_bytes = 0;  // per GPU; 0: no requirement
  int64_t total_steps = 0;
  std::vector<Dependency> depends_on;
  // Requeued after a lost or failed attempt: not placed for this many more seconds.
  double backoff_s = 0;
};

struct ClusterState {
  std::vector<WorkerState> workers;
  std::vector<RunningAttempt> running;
  std::vector<QueuedRun> queued;
  // Fair-share weight per project; a project not listed weighs 1.
  std::map<std::string, double> project_weights;
};

struct Placement {
  int64_t run_id = 0;
  int64_t worker_id = 0;
  std::vector<int> gpus;  // indices on the worker; empty for a CPU run
};

struct Preemption {
  int64_t run_id = 0;  // the victim
  int attempt = 0;
  int64_t worker_id = 0;
  int64_t for_run_id = 0;  // the queued run it makes room for
};

struct RunToFail {
  int64_t run_id = 0;
  std::string reason;  // "dependency run 12 (baseline/brown/seed0) failed"
};

// Why a queued run is not placed by this pass, and when it may start.
struct WaitingRun {
  int64_t run_id = 0;
  int position = 0;       // 1-based rank among the waiting runs
  std::string reason;     // one line, for gwoctl queue
  // Estimated seconds until it starts (see EstimateStarts); nullopt: unknown.
  std::optional<double> eta_s;
};

struct Decisions {
  std::vector<Placement> placements;    // in the order to apply them
  std::vector<Preemption> preemptions;
  std::vector<RunToFail> to_fail;
  std::vector<WaitingRun> waiting;      // every queued run neither placed nor failed, by position
};

// Decides for one pass. Deterministic: the same state gives the same decisions.
Decisions Schedule(const ClusterState& state);

// Fills WaitingRun::eta_s by simulating the queue: each running attempt ends after
// (total_steps - step) / steps_per_s; waiting runs, in position order, start when a
// worker that can hold them has a slot free (the earliest), after their
// dependencies' estimated ends, and run total_steps / rate, where the rate is the
// mean observed steps_per_s of the running attempts. Unknown (nullopt) when no
// rate is known yet or no worker can ever hold the run.
void EstimateStarts(const ClusterState& state, Decisions* decisions);

}  // namespace gwo::server

#endif  // GWO_SERVER_SCHEDULER_H_
