// The coordinator's core: submits, cancels, tracks connected workers and their
// attempts, and dispatches queued runs to free worker slots. It sees no gRPC
// types: the worker stream implements WorkerChannel and converts messages to the
// calls below. All scheduling state lives in the store; the in-memory worker table
// is rebuilt as workers (re)connect.
#ifndef GWO_SERVER_COORDINATOR_H_
#define GWO_SERVER_COORDINATOR_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
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
};

struct SubmitResult {
  ExperimentRecord experiment;
  std::vector<RunRecord> runs;
  bool deduplicated = false;
};

using AttemptKey = std::pair<int64_t, int>;  // (run id, attempt)

class Coordinator {
 public:
  Coordinator(Store* store, CoordinatorOptions options);

  Store* store() const { return store_; }
  const CoordinatorOptions& options() const { return options_; }
  // Woken after metrics or logs of a run are committed and when an attempt ends.
  LiveFeed& live_feed() { return live_feed_; }

  // Validates the spec (INVALID_ARGUMENT naming file:line:column; nothing is
  // stored then), checks each dataset has a non-empty corpus, expands it and
  // stores the experiment with its runs, then dispatches.
  absl::StatusOr<SubmitResult> Submit(const std::string& yaml, const std::string& file_name,
                                      const std::string& idempotency_key);
  // Cancels the unfinished runs and stops their running attempts. Returns how many.
  absl::StatusOr<int> CancelExperiment(int64_t experiment_id);
  // False when the run had already finished.
  absl::StatusOr<bool> CancelRun(int64_t run_id);

  // A worker connected. `running` lists the attempts it still runs from before:
  // those the store also has running on it are reattached, the others are stopped;
  // attempts the store has on it that it no longer runs are released.
  absl::StatusOr<int64_t> RegisterWorker(const WorkerInfo& info, const std::vector<AttemptKey>& running,
                                         WorkerChannel* channel);
  // The worker's connection ended: its attempts are released (requeued while they
  // have restarts left). No call reaches `channel` after this returns.
  void WorkerGone(int64_t worker_id, WorkerChannel* channel);
  void Heartbeat(int64_t worker_id);

  // Reports from a worker; a report of a superseded attempt makes the worker stop it.
  void OnAttemptStarted(int64_t worker_id, int64_t run_id, int attempt, const std::string& output_dir);
  void OnMetrics(int64_t worker_id, int64_t run_id, int attempt, const std::vector<MetricPointRecord>& points);
  void OnLogs(int64_t worker_id, int64_t run_id, int attempt, const std::vector<std::string>& lines);
  void OnAttemptFinished(int64_t worker_id, int64_t run_id, int attempt, RunState state,
                         const std::string& error);

  // Places queued runs on free slots.
  void Dispatch();
  // Periodic work: drops workers silent past their lease, then dispatches.
  void Sweep();

  // Closes every worker stream (at shutdown; workers reconnect to the next coordinator).
  void DisconnectAll(const std::string& reason);

  // Number of connected workers.
  int ConnectedWorkers();

 private:
  struct Session {
    WorkerChannel* channel = nullptr;
    std::string name;
    int slots = 1;
    std::set<AttemptKey> running;
    absl::Time last_seen;
  };

  // Tells the worker running `attempt` to stop it, if it is connected.
  void StopOnWorker(const AttemptOnWorker& attempt, const std::string& reason);
  void HandleReportStatus(int64_t worker_id, int64_t run_id, int attempt, const absl::Status& status);

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
