// PostgreSQL-backed state of the coordinator: experiments, runs, attempts, workers,
// metrics and logs. The coordinator is the only writer. Every method is safe to
// call from many threads (a pool of connections). Errors: UNAVAILABLE when the
// database cannot be reached (the call may be retried), NOT_FOUND for unknown ids,
// FAILED_PRECONDITION for a report of a superseded attempt, INTERNAL otherwise.
// No gRPC or LibTorch types here.
#ifndef GWO_SERVER_STORE_STORE_H_
#define GWO_SERVER_STORE_STORE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace gwo::server {

enum class RunState { kQueued, kRunning, kSucceeded, kFailed, kCancelled };
enum class ExperimentState { kActive, kSucceeded, kFailed, kCancelled };

// "queued", "running", ... as stored in the database.
const char* RunStateName(RunState s);
std::optional<RunState> ParseRunState(const std::string& s);
bool IsTerminal(RunState s);

struct ExperimentRecord {
  int64_t id = 0;
  std::string name;
  // Derived from its runs: kActive while any run is queued or running; then
  // kCancelled if the experiment was cancelled, else kFailed if any run failed or
  // was cancelled, else kSucceeded.
  ExperimentState state = ExperimentState::kActive;
  std::string spec_yaml;
  std::string idempotency_key;  // empty when none was given
  int run_count = 0;
  std::map<RunState, int> runs_by_state;
  absl::Time created_at;
  std::optional<absl::Time> finished_at;  // set once every run is terminal
};

// A run to create with its experiment.
struct NewRun {
  std::string name;  // unique within the experiment
  std::string variant;
  std::string dataset;
  int64_t seed = 0;
  std::string spec_yaml;  // fully resolved run spec
  int64_t total_steps = 0;
  int max_restarts = 3;
  int priority = 0;
};

struct RunRecord {
  int64_t id = 0;
  int64_t experiment_id = 0;
  std::string name;
  std::string variant;
  std::string dataset;
  int64_t seed = 0;
  RunState state = RunState::kQueued;
  int attempt = 0;  // 0 before the first claim
  int64_t step = 0;  // highest step with a metric of the current attempt
  int64_t total_steps = 0;
  std::string error;
  std::string worker;  // name of the worker of the current attempt, empty if none
  std::string spec_yaml;
  // Output directory of the current attempt on its worker's host (checkpoints
  // live there), empty until the attempt reported it.
  std::string output_dir;
  std::map<std::string, double> latest_metrics;  // value at the highest step, per name
  absl::Time created_at;
  std::optional<absl::Time> started_at;
  std::optional<absl::Time> finished_at;
};

// An attempt placed on a worker.
struct AttemptOnWorker {
  int64_t run_id = 0;
  int attempt = 0;
  int64_t worker_id = 0;
};

// What a worker must run after a claim.
struct Assignment {
  int64_t run_id = 0;
  int attempt = 0;
  std::string run_name;
  std::string spec_yaml;
};

struct MetricPointRecord {
  int64_t step = 0;
  std::string name;
  double value = 0;
};

struct MetricSeriesRecord {
  std::string name;
  std::vector<MetricPointRecord> points;  // ordered by step
};

// One bucket of a downsampled series (see Store::QueryMetricBuckets).
struct MetricBucketRecord {
  int64_t step_start = 0;  // lowest step of the bucket's points
  int64_t step_end = 0;    // highest
  int64_t count = 0;       // points in the bucket, >= 1
  double first = 0;        // value at step_start
  double last = 0;         // value at step_end
  double min = 0;
  double max = 0;
  double mean = 0;
};

struct DownsampledSeriesRecord {
  std::string name;
  int64_t total_points = 0;  // clean points in the range, before bucketing
  std::vector<MetricBucketRecord> buckets;  // ordered by step
};

// A metric point with its commit sequence number (increasing per run in commit order).
struct SequencedPoint {
  int64_t seq = 0;
  int attempt = 0;
  int64_t step = 0;
  std::string name;
  double value = 0;
};

struct MetricPage {
  RunState state = RunState::kQueued;  // the run's state in the same snapshot
  std::vector<SequencedPoint> points;  // seq ascending
  int64_t head_seq = 0;  // highest seq of the run in the snapshot (0 when none)
};

struct LogLineRecord {
  int64_t id = 0;  // increasing per run in commit order
  int attempt = 0;
  std::string text;
};

struct LogPage {
  RunState state = RunState::kQueued;  // the run's state in the same snapshot
  std::vector<LogLineRecord> lines;    // id ascending
};

struct WorkerInfo {
  std::string name;
  std::string hostname;
  std::string devices_json;  // the devices as a JSON array, for display
  int slots = 1;
};

class Store {
 public:
  // Connects `pool_size` connections to `url` (a libpq conninfo or postgres:// URL).
  // UNAVAILABLE when the server cannot be reached.
  static absl::StatusOr<std::unique_ptr<Store>> Open(const std::string& url, int pool_size = 4);
  virtual ~Store() = default;

  // Applies the numbered migrations not yet applied, each in its own transaction,
  // under an advisory lock (safe with several coordinators). Idempotent.
  virtual absl::Status Migrate() = 0;
  // Highest applied migration number (0 on an empty database).
  virtual absl::StatusOr<int> SchemaVersion() = 0;

  // --- Experiments and runs ---
  // Creates the experiment and its runs (queued) in one transaction. When
  // `idempotency_key` is non-empty and an experiment with that key exists, returns
  // that one and `*created = false` and writes nothing; concurrent calls with the
  // same key create exactly one experiment.
  virtual absl::StatusOr<ExperimentRecord> CreateExperiment(const std::string& name,
                                                            const std::string& spec_yaml,
                                                            const std::string& idempotency_key,
                                                            const std::vector<NewRun>& runs,
                                                            bool* created) = 0;
  virtual absl::StatusOr<ExperimentRecord> GetExperiment(int64_t id) = 0;
  // Newest first.
  virtual absl::StatusOr<std::vector<ExperimentRecord>> ListExperiments(int limit) = 0;
  // Ordered by run id. NOT_FOUND for an unknown experiment.
  virtual absl::StatusOr<std::vector<RunRecord>> ListRuns(int64_t experiment_id) = 0;
  virtual absl::StatusOr<RunRecord> GetRun(int64_t run_id) = 0;

  // Marks every queued or running run of the experiment cancelled. Returns the
  // attempts that were running, so their workers can be told to stop.
  virtual absl::StatusOr<std::vector<AttemptOnWorker>> CancelExperiment(int64_t id) = 0;
  // Same for one run. `*cancelled` is false when the run was already terminal.
  virtual absl::StatusOr<std::optional<AttemptOnWorker>> CancelRun(int64_t run_id, bool* cancelled) = 0;

  // --- Workers ---
  // Registers (or re-registers, by name) a worker as online; returns its id.
  virtual absl::StatusOr<int64_t> UpsertWorker(const WorkerInfo& info) = 0;
  // Marks the worker offline.
  virtual absl::Status MarkWorkerOffline(int64_t worker_id) = 0;

  // --- Scheduling ---
  // Claims the next queued run (highest priority, then oldest) for the worker:
  // increments its attempt, sets it running on the worker and records the attempt,
  // in one transaction using FOR UPDATE SKIP LOCKED, so concurrent claims never
  // get the same run. nullopt when nothing is queued.
  virtual absl::StatusOr<std::optional<Assignment>> ClaimNextRun(int64_t worker_id) = 0;
  // Attempts the database believes are running on this worker.
  virtual absl::StatusOr<std::vector<AttemptOnWorker>> RunningAttempts(int64_t worker_id) = 0;
  // The worker is gone: each of its running attempts ends as lost, and its run is
  // queued again if it has restarts left, else failed with `reason`.
  virtual absl::Status ReleaseWorkerAttempts(int64_t worker_id, const std::string& reason) = 0;

  // --- Reports (fenced: FAILED_PRECONDITION unless (run_id, attempt) is the run's
  // current attempt and the run is running) ---
  // Stores points keyed (run, attempt, step, name); a point already stored is
  // ignored (replays are harmless). Advances the run's step.
  virtual absl::Status RecordMetrics(int64_t run_id, int attempt,
                                     const std::vector<MetricPointRecord>& points) = 0;
  // Records where the attempt writes its outputs on the worker's host.
  virtual absl::Status RecordAttemptOutput(int64_t run_id, int attempt, const std::string& output_dir) = 0;
  virtual absl::Status AppendLogs(int64_t run_id, int attempt, const std::vector<std::string>& lines) = 0;
  // Ends the attempt with `state` (kSucceeded, kFailed or kCancelled) and `error`.
  virtual absl::Status FinishAttempt(int64_t run_id, int attempt, RunState state,
                                     const std::string& error) = 0;

  // --- Reads of results ---
  // Series of the run, sorted by name, each ordered by step. For a step reported by
  // several attempts, the latest attempt's value. `names` empty: all.
  virtual absl::StatusOr<std::vector<MetricSeriesRecord>> QueryMetrics(
      int64_t run_id, const std::vector<std::string>& names) = 0;
  // The last `n` log lines of the run (all attempts, in order).
  virtual absl::StatusOr<std::vector<std::string>> TailLogs(int64_t run_id, int n) = 0;

  // --- Reads for reports and live streams (pg_store_series.cc) ---
  // The final value of every metric of every run of the experiment, by run id:
  // the last point of the run's clean series. The clean series drops the points
  // of an attempt at or past the first step a later attempt reported (under any
  // name: where it resumed from), since those steps were redone. Runs (and
  // metrics) without a clean point are absent. NOT_FOUND for an unknown experiment.
  virtual absl::StatusOr<std::map<int64_t, std::map<std::string, double>>> FinalMetrics(
      int64_t experiment_id) = 0;
  // The clean series of the run (`names` empty: all), restricted to steps in
  // [step_min, step_max] (step_max < 0: no upper bound), downsampled in SQL: the
  // steps from the series' first to its last are cut into `max_points` equal-width
  // ranges and each non-empty one becomes a bucket with its count, first, last,
  // min, max and mean (a span of at most `max_points` steps keeps every point as
  // its own bucket). One pass over the points, hash-aggregated. Sorted by name.
  // NOT_FOUND for an unknown run; INVALID_ARGUMENT for max_points < 1.
  virtual absl::StatusOr<std::vector<DownsampledSeriesRecord>> QueryMetricBuckets(
      int64_t run_id, const std::vector<std::string>& names, int max_points, int64_t step_min,
      int64_t step_max) = 0;
  // Up to `limit` points of the run with seq > after_seq (`names` empty: all),
  // with the run's state, in one snapshot. NOT_FOUND for an unknown run.
  virtual absl::StatusOr<MetricPage> MetricsAfter(int64_t run_id, int64_t after_seq,
                                                  const std::vector<std::string>& names, int limit) = 0;
  // Up to `limit` log lines of the run with id > after_id, with the run's state.
  // NOT_FOUND for an unknown run.
  virtual absl::StatusOr<LogPage> LogsAfter(int64_t run_id, int64_t after_id, int limit) = 0;
  // The id after which the run's last `n` lines start (0 when it has n or fewer).
  // NOT_FOUND for an unknown run.
  virtual absl::StatusOr<int64_t> LogIdBeforeTail(int64_t run_id, int n) = 0;
};

}  // namespace gwo::server

#endif  // GWO_SERVER_STORE_STORE_H_
