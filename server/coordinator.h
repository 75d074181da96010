// The coordinator's core: submits, cancels, tracks connected workers and their
// attempts, and dispatches queued runs to free worker slots. It sees no gRPC
// types: the worker stream implements WorkerChannel and converts messages to the
// calls below. All scheduling state lives in the store; the in-memory worker table
// is rebuilt as workers (re)connect (Recover() watches, after a restart, the
// workers the store has attempts on until they come back or their lease ends).
//
// Attempt lifecycle: a claim makes a new attempt. A worker's attempts outlive its
// stream: they are released (lost, requeued with backoff while restarts remain)
// only when the worker stays silent past its lease, or when it reconnects without
// them. A worker that reconnects within its lease gets its attempts reattached.
// Reports are fenced by (run, attempt): a superseded attempt's report is refused
// and its worker told to stop it.
#ifndef GWO_SERVER_COORDINATOR_H_
#define GWO_SERVER_COORDINATOR_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/scheduler.h"
#include "server/coordinator_observer.h"
#include "server/live_feed.h"
#include "server/store/store.h"

namespace gwo::server {

// A connected worker, as the core sees it. Calls never block on the network and
// never call back into the Coordinator. The Coordinator calls them only while it
// holds its lock and the worker's session exists, which keeps the channel alive:
// a channel is destroyed only after WorkerGone() has returned for it.
class WorkerChannel {
 public:
  virtual ~WorkerChannel() = default;
  // Asks the worker to start an attempt.
  virtual void Assign(const Assignment& assignment) = 0;
  // Asks the worker to stop an attempt (SIGTERM, then SIGKILL).
  virtual void Stop(int64_t run_id, int attempt, const std::string& reason) = 0;
  // Closes the connection (the worker will reconnect).
  virtual void Disconnect(const std::string& reason) = 0;
};

struct CoordinatorOptions {
  // A worker silent for longer than this is considered lost.
  absl::Duration worker_lease = absl::Seconds(30);
  // Interval a worker is asked to heartbeat at.
  absl::Duration heartbeat_interval = absl::Seconds(5);
  // A run requeued after its attempt n was lost (or failed retryably) is claimable
  // after min(requeue_backoff * 2^(n-1), max_requeue_backoff).
  absl::Duration requeue_backoff = absl::Seconds(5);
  absl::Duration max_requeue_backoff = absl::Minutes(5);
  // Fair-share weight per project (resources.project); unlisted projects weigh 1.
  std::map<std::string, double> project_weights;
  // Told about dispatches, ingested metrics and finished attempts; not owned; may be null.
  CoordinatorObserver* observer = nullptr;
  // Paths a submitted spec may name lie beneath these (server/path_roots.h); empty:
  // anywhere (gwo-coordinator's --path_roots defaults to DefaultPathRoots()).
  std::vector<std::string> path_roots;
};

// A queued run as `gwoctl queue` shows it (see Coordinator::Queue).
struct QueueEntry {
  int64_t run_id = 0;
  int64_t experiment_id = 0;
  std::string name;
  std::string project;
  int priority = 0;
  int gpus = 0;
  int position = 0;           // 1-based; 0 for a run being placed now
  std::string reason;         // why it waits, from the scheduler
  std::optional<double> eta_s;  // estimated seconds until it starts
};

// A connected worker's capacity and use, for metrics.
struct WorkerLoad {
  int slots = 0;
  int running = 0;  // attempts running on it
  int gpus = 0;     // CUDA devices it reported
};

struct SubmitResult {
  ExperimentRecord experiment;
  std::vector<RunRecord> runs;
  bool deduplicated = false;
};

using AttemptKey = std::pair<int64_t, int>;  // (run id, attempt)

// Who submits: recorded as the experiment's owner, and asked whether it may submit
// to the spec's project (before anything is resolved or stored) and whether it may
// read each run the spec trains from (model.init.from_run,
// training.distill.teacher.from_run; a run it may not read is "no run with id N").
struct Submitter {
  std::string user;
  // Empty: no check (the core's own callers and tests).
  std::function<absl::Status(const std::string& project)> may_submit_to;
  std::function<bool(int64_t run_id)> may_read_run;
};

class Coordinator {
 public:
  Coordinator(Store* store, CoordinatorOptions options);

  Store* store() const { return store_; }
  const CoordinatorOptions& options() const { return options_; }
  // Woken after metrics or logs of a run are committed and when an attempt ends.
  LiveFeed& live_feed() { return live_feed_; }

  // At start: watches the workers the store has running attempts on as
  // disconnected, so that they either reconnect within their lease (and keep
  // their attempts) or lose them. UNAVAILABLE when the store cannot be read.
  absl::Status Recover();

  // Validates the spec (INVALID_ARGUMENT naming file:line:column; nothing is
  // stored then), checks each dataset has a non-empty corpus, expands it and
  // stores the experiment with its runs, then dispatches. `scale` picks one of the
  // file's `scales:` (empty: its `scale:` default; see spec::ParseExperimentSpec).
  absl::StatusOr<SubmitResult> Submit(const std::string& yaml, const std::string& file_name,
                                      const std::string& idempotency_key,
                                      const std::string& scale = "", const Submitter& by = {});
  // Cancels the unfinished runs and stops their running attempts. Returns how many.
  absl::StatusOr<int> CancelExperiment(int64_t experiment_id);
  // False when the run had already finished.
  absl::StatusOr<bool> CancelRun(int64_t run_id);

  // A worker connected. `running` lists the attempts it still runs (or still has
  // to report the end of) from before: those the store also has running on it are
  // reattached, the others are stopped; attempts the store has on it that it no
  // longer runs are released.
  absl::StatusOr<int64_t> RegisterWorker(const WorkerInfo& info, const std::vector<AttemptKey>& running,
                                         WorkerChannel* channel);
  // The worker's connection ended. Its attempts stay: they are released only if
  // it does not reconnect within its lease (Sweep). No call reaches `channel`
  // after this returns.
  void WorkerGone(int64_t worker_id, WorkerChannel* channel);
  // Any message from the worker renews its lease.
  void Heartbeat(int64_t worker_id);

  // Reports from a worker. OK: handled, the worker may drop the report from its
  // spool (stored, or refused for good: a report of a superseded attempt is
  // refused and makes the worker stop it). UNAVAILABLE: the database could not be
  // reached; nothing was stored and the report must be sent again.
  // `resumed_from`: the checkpoint step the attempt continues from (0: scratch);
  // earlier attempts' points past it are archived.
  absl::Status OnAttemptStarted(int64_t worker_id, int64_t run_id, int attempt, const std::string& output_dir,
                                int64_t resumed_from);
  // `backfill`: points the attempt inherited with its checkpoint (stored only where
  // the run has none).
  absl::Status OnMetrics(int64_t worker_id, int64_t run_id, int attempt,
                         const std::vector<MetricPointRecord>& points, bool backfill = false);
  absl::Status OnLogs(int64_t worker_id, int64_t run_id, int attempt, const std::vector<std::string>& lines,
                      int64_t first_line = 0);
  // `retryable` (with kFailed): another attempt may succeed; the run is requeued
  // while it has restarts left.
  absl::Status OnAttemptFinished(int64_t worker_id, int64_t run_id, int attempt, RunState state,
                                 const std::string& error, bool retryable = false);

  // One scheduling pass (server/scheduler.h) over the connected workers and the
  // queue: fails stages whose dependency failed, claims and assigns the runs it
  // places (resolving stage checkpoints), and asks workers to stop preempted
  // attempts.
  void Dispatch();
  // The queued runs in scheduling order with why each waits and an estimated
  // start (EstimateStarts), computed as a dispatch pass would, without applying it.
  absl::StatusOr<std::vector<QueueEntry>> Queue();
  // Periodic work: releases the attempts of workers silent past their lease
  // (disconnecting them if their stream is still open), then dispatches.
  void Sweep();

  // Closes every worker stream (at shutdown; workers reconnect to the next coordinator).
  void DisconnectAll(const std::string& reason);

  // Number of connected workers.
  int ConnectedWorkers();
  // One entry per connected worker.
  std::vector<WorkerLoad> WorkerLoads();

 private:
  // A worker the coordinator knows: connected, or disconnected within its lease.
  struct Session {
    WorkerChannel* channel = nullptr;  // nullptr while disconnected
    std::string name;
    int slots = 1;
    std::vector<GpuInfo> gpus;
    std::set<AttemptKey> running;
    absl::Time last_seen;
  };

  // Tells the worker running `attempt` to stop it, if it is connected.
  void StopOnWorker(const AttemptOnWorker& attempt, const std::string& reason);
  CoordinatorObserver& observer() {
    static CoordinatorObserver none;
    return options_.observer != nullptr ? *options_.observer : none;
  }
  // The outcome of a report for the worker: OK or UNAVAILABLE (see OnMetrics).
  absl::Status Settle(int64_t worker_id, int64_t run_id, int attempt, const absl::Status& status);
  // The scheduler's input: connected workers (from the sessions) and the queue.
  // `snapshot` receives the store's view it was built from.
  absl::StatusOr<ClusterState> BuildClusterState(QueueSnapshot* snapshot);
  void DispatchPass(bool even_without_workers);

  Store* const store_;
  const CoordinatorOptions options_;
  // Serializes dispatch so two passes never claim for the same free slot.
  absl::Mutex dispatch_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  absl::Mutex mu_;
  std::map<int64_t, Session> workers_ ABSL_GUARDED_BY(mu_);
  LiveFeed live_feed_;
};

}  // namespace gwo::server

#endif  // GWO_SERVER_COORDINATOR_H_
