// PostgreSQL-backed state of the coordinator: experiments, runs, attempts, workers,
// metrics and logs. The coordinator is the only writer. Every method is safe to
// call from many threads (a pool of connections). Errors: UNAVAILABLE when the
// database cannot be reached (the call may be retried), NOT_FOUND for unknown ids,
// FAILED_PRECONDITION for a report of a superseded attempt, INTERNAL otherwise.
// No gRPC or LibTorch types here.
#ifndef GWO_SERVER_STORE_STORE_H_
#define GWO_SERVER_STORE_STORE_H_

#include <cstdint>
#include <functional>
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
  std::string project = "default";  // resources.project: who may see and act on it
  std::string owner;                // user who submitted it (empty before access control)
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
  std::string project = "default";  // fair-share group; the experiment's project (one for all its runs)
  int gpus = 0;                     // GPUs on one worker (0: CPU)
  int64_t gpu_memory_bytes = 0;     // per GPU (0: no requirement)
  // Names of runs of the same experiment this run waits for (a stage).
  std::vector<std::string> depends_on;
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
  std::vector<int> gpus;  // device indices on the worker the attempt may use
  // Output directories of the run's earlier attempts that reported one, newest
  // first: where the new attempt looks for a checkpoint to continue from.
  std::vector<std::string> resume_dirs;
};

// A run a queued run depends on, as it is now.
struct DependencyRecord {
  int64_t run_id = 0;
  std::string name;
  std::string variant;
  RunState state = RunState::kQueued;
  std::string output_dir;  // of its current attempt
};

// What the scheduler needs to know about the queue, read in one snapshot.
struct QueueSnapshot {
  struct Queued {
    int64_t run_id = 0;
    int64_t experiment_id = 0;
    std::string name;
    std::string project;
    int priority = 0;
    int gpus = 0;
    int64_t gpu_memory_bytes = 0;
    int64_t total_steps = 0;
    std::string spec_yaml;
    std::vector<DependencyRecord> depends_on;
    // Requeued with a backoff: not claimable before this time.
    std::optional<absl::Time> not_before;
  };
  struct Running {
    int64_t run_id = 0;
    int attempt = 0;
    int64_t worker_id = 0;
    std::string name;
    std::string project;
    int priority = 0;
    std::vector<int> gpus;
    int64_t step = 0;
    int64_t total_steps = 0;
    absl::Time attempt_started;
    bool preempt_requested = false;
  };
  std::vector<Queued> queued;    // by id
  std::vector<Running> running;  // by id
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

// A compute device of a worker host.
struct DeviceRecord {
  std::string kind;  // "cpu" or "cuda"
  int index = 0;
  int64_t memory_bytes = 0;  // 0: unknown
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
  std::vector<DeviceRecord> devices;  // what the scheduler places GPU runs on
};

// --- Access ---
enum class Role { kViewer, kMember, kAdmin };
const char* RoleName(Role r);  // "viewer", "member", "admin"
std::optional<Role> ParseRole(const std::string& s);

struct UserRecord {
  int64_t id = 0;
  std::string name;
  Role role = Role::kViewer;
  bool disabled = false;
  std::vector<std::string> projects;  // sorted
  absl::Time created_at;
};

struct ProjectRecord {
  std::string name;
  std::vector<std::string> members;  // user names, sorted
  absl::Time created_at;
};

enum class TokenKind { kUser, kWorker };

// A token to store: only the lookup key, the salt and the hash of its secret.
struct NewToken {
  TokenKind kind = TokenKind::kUser;
  std::string user;  // a user token's user; empty for a worker token
  std::string name;
  std::string lookup;
  std::string salt_hex;
  std::string hash_hex;
  std::string created_by;
  std::optional<absl::Time> expires_at;
};

struct TokenRecord {
  int64_t id = 0;
  TokenKind kind = TokenKind::kUser;
  std::string name;
  std::string lookup;
  std::string salt_hex;
  std::string hash_hex;
  std::string created_by;
  absl::Time created_at;
  std::optional<absl::Time> expires_at;
  std::optional<absl::Time> revoked_at;
  // A user token's user as it is now (FindToken, ListTokens).
  std::optional<UserRecord> user;
};

struct AuditRecord {
  int64_t id = 0;  // set by the store
  absl::Time at;   // set by the store
  std::string actor;
  std::string method;
  std::string target;
  std::string peer;
  std::string outcome;
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
                                                            bool* created, const std::string& owner = "") = 0;
  virtual absl::StatusOr<ExperimentRecord> GetExperiment(int64_t id) = 0;
  // Newest first; with `projects`, only experiments of those projects.
  virtual absl::StatusOr<std::vector<ExperimentRecord>> ListExperiments(
      int limit, const std::optional<std::vector<std::string>>& projects = std::nullopt) = 0;
  // The project of the experiment, or of the run's experiment. NOT_FOUND for an unknown id.
  virtual absl::StatusOr<std::string> ExperimentProject(int64_t experiment_id) = 0;
  virtual absl::StatusOr<std::string> RunProject(int64_t run_id) = 0;
  // Ordered by run id. NOT_FOUND for an unknown experiment.
  virtual absl::StatusOr<std::vector<RunRecord>> ListRuns(int64_t experiment_id) = 0;
  virtual absl::StatusOr<RunRecord> GetRun(int64_t run_id) = 0;

  // Marks every queued or running run of the experiment cancelled. Returns the
  // attempts that were running, so their workers can be told to stop.
  virtual absl::StatusOr<std::vector<AttemptOnWorker>> CancelExperiment(int64_t id) = 0;
  // Same for one run. `*cancelled` is false when the run was already terminal.
  virtual absl::StatusOr<std::optional<AttemptOnWorker>> CancelRun(int64_t run_id, bool* cancelled) = 0;

  // --- Workers ---
  // Workers that the database has attempts running on, by id (for the coordinator
  // to watch their leases after a restart).
  virtual absl::StatusOr<std::map<int64_t, std::string>> WorkersWithRunningAttempts() = 0;
  // Registers (or re-registers, by name) a worker as online; returns its id.
  virtual absl::StatusOr<int64_t> UpsertWorker(const WorkerInfo& info) = 0;
  // Marks the worker offline.
  virtual absl::Status MarkWorkerOffline(int64_t worker_id) = 0;

  // --- Scheduling ---
  // Claims the next queued run (highest priority, then oldest) for the worker:
  // increments its attempt, sets it running on the worker and records the attempt,
  // in one transaction using FOR UPDATE SKIP LOCKED, so concurrent claims never
  // get the same run. A run requeued with a backoff is not claimed before its time.
  // nullopt when nothing is queued.
  virtual absl::StatusOr<std::optional<Assignment>> ClaimNextRun(int64_t worker_id) = 0;
  // The queued runs (with their dependencies) and the running attempts.
  virtual absl::StatusOr<QueueSnapshot> ReadQueue() = 0;
  // Claims run `run_id` for the worker if it is still queued and no concurrent
  // transaction holds it (FOR UPDATE SKIP LOCKED: several coordinators on one
  // database never claim a run twice), recording the GPUs the attempt holds.
  // A non-empty `resolved_spec_yaml` replaces the stored run spec (a stage's
  // resolved checkpoint paths). nullopt when the run is no longer claimable.
  virtual absl::StatusOr<std::optional<Assignment>> ClaimRun(int64_t run_id, int64_t worker_id,
                                                             const std::vector<int>& gpus,
                                                             const std::string& resolved_spec_yaml) = 0;
  // Fails a queued run with `reason` (a stage whose dependency failed). False
  // when it was no longer queued.
  virtual absl::StatusOr<bool> FailQueuedRun(int64_t run_id, const std::string& reason) = 0;
  // Marks the running attempt as asked to stop for preemption: when it ends
  // (other than succeeded) it is recorded as 'preempted' and its run queued again
  // without using a restart. FAILED_PRECONDITION unless it is the running attempt.
  virtual absl::Status RequestPreemption(int64_t run_id, int attempt) = 0;
  // Attempts the database believes are running on this worker.
  virtual absl::StatusOr<std::vector<AttemptOnWorker>> RunningAttempts(int64_t worker_id) = 0;
  // The worker is gone: each of its running attempts, except those of the runs in
  // `keep_runs`, ends as lost, and its run is queued again if it has restarts left
  // (not claimed before the requeue backoff has passed), else failed with `reason`.
  virtual absl::Status ReleaseWorkerAttempts(int64_t worker_id, const std::string& reason,
                                             const std::vector<int64_t>& keep_runs = {}) = 0;
  // A run queued again after its attempt n is claimable after
  // min(base * 2^(n-1), max); zero base: at once.
  virtual void SetRequeueBackoff(absl::Duration base, absl::Duration max) = 0;

  // --- Reports (fenced: FAILED_PRECONDITION unless (run_id, attempt) is the run's
  // current attempt and the run is running) ---
  // Stores points keyed (run, attempt, step, name); a point already stored is
  // ignored (replays are harmless). Advances the run's step.
  virtual absl::Status RecordMetrics(int64_t run_id, int attempt,
                                     const std::vector<MetricPointRecord>& points) = 0;
  // Points the attempt inherited with the checkpoint it resumed from: each is
  // stored (as the attempt's) only when the run has no current point at that
  // (step, name), so history lost with an earlier worker is filled in, once.
  virtual absl::Status BackfillMetrics(int64_t run_id, int attempt,
                                       const std::vector<MetricPointRecord>& points) = 0;
  // The attempt continues from step `resumed_from` (0: from scratch): the points
  // of earlier attempts past that step are archived (kept, but left out of
  // QueryMetrics and the latest metrics). Idempotent.
  virtual absl::Status ArchiveEarlierMetrics(int64_t run_id, int attempt, int64_t resumed_from) = 0;
  // Records where the attempt writes its outputs on the worker's host.
  virtual absl::Status RecordAttemptOutput(int64_t run_id, int attempt, const std::string& output_dir) = 0;
  // `first_line` > 0 numbers the lines first_line, first_line + 1, ...; a line
  // whose number the attempt already stored is ignored (replays are harmless).
  virtual absl::Status AppendLogs(int64_t run_id, int attempt, const std::vector<std::string>& lines,
                                  int64_t first_line = 0) = 0;
  // Ends the attempt with `state` (kSucceeded, kFailed or kCancelled) and `error`.
  // A kFailed attempt with `retryable` and restarts left queues the run again
  // (with the requeue backoff) instead of failing it. An attempt asked to stop for
  // preemption that ends other than succeeded ends as 'preempted' instead and its
  // run is queued again without using a restart (see RequestPreemption).
  virtual absl::Status FinishAttempt(int64_t run_id, int attempt, RunState state, const std::string& error,
                                     bool retryable = false) = 0;

  // --- Reads of results ---
  // Series of the run, sorted by name, each ordered by step, without archived
  // points (one clean curve across attempts). For a step reported by several
  // attempts, the latest attempt's value. `names` empty: all.
  virtual absl::StatusOr<std::vector<MetricSeriesRecord>> QueryMetrics(
      int64_t run_id, const std::vector<std::string>& names) = 0;
  // The last `n` log lines of the run (all attempts, in order).
  virtual absl::StatusOr<std::vector<std::string>> TailLogs(int64_t run_id, int n) = 0;

  // --- Telemetry (pg_store_telemetry.cc) ---
  // Number of runs in each state; every state is present (0 when none).
  virtual absl::StatusOr<std::map<RunState, int64_t>> CountRunsByState() = 0;
  // How long the attempt waited in the queue: from the run's creation (attempt 1)
  // or the end of the previous attempt, to this attempt's claim. NOT_FOUND when
  // the attempt does not exist.
  virtual absl::StatusOr<absl::Duration> QueueWait(int64_t run_id, int attempt) = 0;
  // Called with the error of every database transaction that ends in one, after
  // retries (callers' own errors, NOT_FOUND, FAILED_PRECONDITION, included: the
  // hook decides what to count). Set before the store is used; may be empty.
  void set_error_hook(std::function<void(const absl::Status&)> hook) { error_hook_ = std::move(hook); }

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

  // --- Access: users, projects, tokens, audit (pg_store_access.cc) ---
  // Names: users and projects 1-64 characters of [A-Za-z0-9_.-] (checked by the caller).
  // Creates the first admin (member of the project "default") and the tokens, in one
  // transaction, only while no user exists: ALREADY_EXISTS otherwise.
  virtual absl::Status Bootstrap(const std::string& admin, const std::vector<NewToken>& tokens) = 0;
  // ALREADY_EXISTS for a taken name.
  virtual absl::StatusOr<UserRecord> CreateUser(const std::string& name, Role role) = 0;
  // NOT_FOUND for an unknown name.
  virtual absl::StatusOr<UserRecord> GetUser(const std::string& name) = 0;
  virtual absl::StatusOr<std::vector<UserRecord>> ListUsers() = 0;
  // Changes what is given. NOT_FOUND for an unknown name.
  virtual absl::StatusOr<UserRecord> UpdateUser(const std::string& name, std::optional<Role> role,
                                                std::optional<bool> disabled) = 0;
  // ALREADY_EXISTS for a taken name.
  virtual absl::Status CreateProject(const std::string& name) = 0;
  virtual absl::StatusOr<std::vector<ProjectRecord>> ListProjects() = 0;
  // Adds or removes the user's membership. NOT_FOUND for an unknown user or project.
  virtual absl::Status SetProjectMember(const std::string& project, const std::string& user, bool member) = 0;
  // The new token's record. NOT_FOUND for an unknown user of a user token.
  virtual absl::StatusOr<TokenRecord> CreateToken(const NewToken& token) = 0;
  // The token with this lookup key, its user's role, state and projects. NOT_FOUND when none.
  virtual absl::StatusOr<TokenRecord> FindToken(const std::string& lookup) = 0;
  // Every token (`user` empty), or the user's. Newest first.
  virtual absl::StatusOr<std::vector<TokenRecord>> ListTokens(const std::string& user) = 0;
  virtual absl::StatusOr<TokenRecord> GetToken(int64_t id) = 0;
  // Marks it revoked (idempotent). NOT_FOUND for an unknown id.
  virtual absl::StatusOr<TokenRecord> RevokeToken(int64_t id) = 0;
  virtual absl::Status AppendAudit(const AuditRecord& entry) = 0;
  // Newest first, entries with id < before_id (0: from the newest), at most `limit`.
  virtual absl::StatusOr<std::vector<AuditRecord>> ListAudit(int limit, int64_t before_id) = 0;

 protected:
  std::function<void(const absl::Status&)> error_hook_;
};

}  // namespace gwo::server

#endif  // GWO_SERVER_STORE_STORE_H_
