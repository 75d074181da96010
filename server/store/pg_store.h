// Store on PostgreSQL (see store.h for the contract). Every method runs as one
// transaction on a pooled connection; a transaction that fails because the
// connection was lost before COMMIT, or on a deadlock, is run again (a few times),
// so a server restart is invisible to callers once the server is back.
//
// Locking: a transaction that changes runs locks the run rows first (in id order)
// and the experiment row after, so concurrent changes do not deadlock; an
// experiment's finished_at is decided after its row is locked (FinishExperimentIfDone).
#ifndef GWO_SERVER_STORE_PG_STORE_H_
#define GWO_SERVER_STORE_PG_STORE_H_

#include <atomic>
#include <functional>
#include <memory>

#include "server/store/pg_connection.h"
#include "server/store/store.h"

namespace gwo::server {

class PgStore final : public Store {
 public:
  explicit PgStore(std::unique_ptr<PgPool> pool) : pool_(std::move(pool)) {}

  absl::Status Migrate() override;
  absl::StatusOr<int> SchemaVersion() override;

  absl::StatusOr<ExperimentRecord> CreateExperiment(const std::string& name, const std::string& spec_yaml,
                                                    const std::string& idempotency_key,
                                                    const std::vector<NewRun>& runs, bool* created,
                                                    const std::string& owner = "") override;
  absl::StatusOr<ExperimentRecord> GetExperiment(int64_t id) override;
  absl::StatusOr<std::vector<ExperimentRecord>> ListExperiments(
      int limit, const std::optional<std::vector<std::string>>& projects = std::nullopt) override;
  absl::StatusOr<std::string> ExperimentProject(int64_t experiment_id) override;
  absl::StatusOr<std::string> RunProject(int64_t run_id) override;
  absl::StatusOr<std::vector<RunRecord>> ListRuns(int64_t experiment_id) override;
  absl::StatusOr<RunRecord> GetRun(int64_t run_id) override;
  absl::StatusOr<std::vector<AttemptOnWorker>> CancelExperiment(int64_t id) override;
  absl::StatusOr<std::optional<AttemptOnWorker>> CancelRun(int64_t run_id, bool* cancelled) override;

  absl::StatusOr<std::map<int64_t, std::string>> WorkersWithRunningAttempts() override;
  absl::StatusOr<int64_t> UpsertWorker(const WorkerInfo& info) override;
  absl::Status MarkWorkerOffline(int64_t worker_id) override;

  absl::StatusOr<std::optional<Assignment>> ClaimNextRun(int64_t worker_id) override;
  absl::StatusOr<QueueSnapshot> ReadQueue() override;
  absl::StatusOr<std::optional<Assignment>> ClaimRun(int64_t run_id, int64_t worker_id, const std::vector<int>& gpus,
                                                     const std::string& resolved_spec_yaml) override;
  absl::StatusOr<bool> FailQueuedRun(int64_t run_id, const std::string& reason) override;
  absl::Status RequestPreemption(int64_t run_id, int attempt) override;
  absl::StatusOr<std::vector<AttemptOnWorker>> RunningAttempts(int64_t worker_id) override;
  absl::Status ReleaseWorkerAttempts(int64_t worker_id, const std::string& reason,
                                     const std::vector<int64_t>& keep_runs = {}) override;
  void SetRequeueBackoff(absl::Duration base, absl::Duration max) override;

  absl::Status RecordMetrics(int64_t run_id, int attempt, const std::vector<MetricPointRecord>& points) override;
  absl::Status BackfillMetrics(int64_t run_id, int attempt, const std::vector<MetricPointRecord>& points) override;
  absl::Status ArchiveEarlierMetrics(int64_t run_id, int attempt, int64_t resumed_from) override;
  absl::Status AppendLogs(int64_t run_id, int attempt, const std::vector<std::string>& lines,
                          int64_t first_line = 0) override;
  absl::Status RecordAttemptOutput(int64_t run_id, int attempt, const std::string& output_dir) override;
  absl::Status FinishAttempt(int64_t run_id, int attempt, RunState state, const std::string& error,
                             bool retryable = false) override;

  absl::StatusOr<std::vector<MetricSeriesRecord>> QueryMetrics(int64_t run_id,
                                                               const std::vector<std::string>& names) override;
  absl::StatusOr<std::vector<std::string>> TailLogs(int64_t run_id, int n) override;

  absl::StatusOr<std::map<RunState, int64_t>> CountRunsByState() override;
  absl::StatusOr<absl::Duration> QueueWait(int64_t run_id, int attempt) override;
  absl::StatusOr<std::map<int64_t, std::map<std::string, double>>> FinalMetrics(int64_t experiment_id) override;
  absl::StatusOr<std::vector<DownsampledSeriesRecord>> QueryMetricBuckets(int64_t run_id,
                                                                          const std::vector<std::string>& names,
                                                                          int max_points, int64_t step_min,
                                                                          int64_t step_max) override;
  absl::StatusOr<MetricPage> MetricsAfter(int64_t run_id, int64_t after_seq, const std::vector<std::string>& names,
                                          int limit) override;
  absl::StatusOr<LogPage> LogsAfter(int64_t run_id, int64_t after_id, int limit) override;
  absl::StatusOr<int64_t> LogIdBeforeTail(int64_t run_id, int n) override;

  absl::Status Bootstrap(const std::string& admin, const std::vector<NewToken>& tokens) override;
  absl::StatusOr<UserRecord> CreateUser(const std::string& name, Role role) override;
  absl::StatusOr<UserRecord> GetUser(const std::string& name) override;
  absl::StatusOr<std::vector<UserRecord>> ListUsers() override;
  absl::StatusOr<UserRecord> UpdateUser(const std::string& name, std::optional<Role> role,
                                        std::optional<bool> disabled) override;
  absl::Status CreateProject(const std::string& name) override;
  absl::StatusOr<std::vector<ProjectRecord>> ListProjects() override;
  absl::Status SetProjectMember(const std::string& project, const std::string& user, bool member) override;
  absl::StatusOr<TokenRecord> CreateToken(const NewToken& token) override;
  absl::StatusOr<TokenRecord> FindToken(const std::string& lookup) override;
  absl::StatusOr<std::vector<TokenRecord>> ListTokens(const std::string& user) override;
  absl::StatusOr<TokenRecord> GetToken(int64_t id) override;
  absl::StatusOr<TokenRecord> RevokeToken(int64_t id) override;
  absl::Status AppendAudit(const AuditRecord& entry) override;
  absl::StatusOr<std::vector<AuditRecord>> ListAudit(int limit, int64_t before_id) override;

 private:
  enum class Mode {
    kReadWrite,  // BEGIN ... COMMIT
    kReadOnly,   // one REPEATABLE READ snapshot
    kNoTransaction,
  };
  using Body = std::function<absl::Status(PgConnection&)>;
  // Runs `body` on a pooled connection (in a transaction unless kNoTransaction).
  // `body` must be safe to run again from the start: it is, after a lost
  // connection before COMMIT or a deadlock.
  absl::Status Run(Mode mode, const Body& body);
  // Run without the error hook.
  absl::Status RunTransaction(Mode mode, const Body& body);

  // NOT_FOUND unless the row exists. `what` names it in the message ("run").
  static absl::Status RequireRow(PgConnection& conn, const char* table, const char* what, int64_t id);
  // Sets experiments.finished_at when none of its runs is queued or running.
  static absl::Status FinishExperimentIfDone(PgConnection& conn, int64_t experiment_id);
  static absl::StatusOr<std::vector<ExperimentRecord>> ReadExperiments(PgConnection& conn, const std::string& tail,
                                                                       const std::vector<PgParam>& params);
  // Runs matching `where` (on runs r, parameter $1), ordered by id, with latest metrics.
  static absl::StatusOr<std::vector<RunRecord>> ReadRuns(PgConnection& conn, const std::string& where,
                                                         int64_t id);
  // Locks the run and checks that `attempt` is its current, running attempt:
  // NOT_FOUND for an unknown run, FAILED_PRECONDITION otherwise. Returns the
  // run's experiment id.
  static absl::StatusOr<int64_t> LockCurrentAttempt(PgConnection& conn, int64_t run_id, int attempt);

  // Metric points as the array literals of $n::int8[], $n::text[], $n::float8[]
  // parameters (names sanitized).
  struct PointColumns {
    explicit PointColumns(const std::vector<MetricPointRecord>& points);
    std::string steps, names, values;
  };
  // SQL expression for the time a run requeued after attempt `attempt_column` may
  // be claimed again (the requeue backoff).
  std::string NotBeforeSql(const std::string& attempt_column) const;
  // Claims the run that `pick` selects (one id, FOR NO KEY UPDATE SKIP LOCKED; its
  // parameters `params` are $3, $4, ...) for the worker: its next attempt runs there,
  // holding `gpus`, with the run spec replaced by `spec` unless null. nullopt when
  // `pick` selects nothing.
  static absl::StatusOr<std::optional<Assignment>> ClaimPicked(PgConnection& conn, const std::string& pick,
                                                               std::vector<PgParam> params, int64_t worker_id,
                                                               const std::vector<int>& gpus, const PgParam& spec);
  // Output directories of the run's attempts before `attempt`, newest first.
  static absl::StatusOr<std::vector<std::string>> EarlierOutputDirs(PgConnection& conn, int64_t run_id,
                                                                    int attempt);
  // Users matching `where` ($1 = `param`), with their projects, by name.
  static absl::StatusOr<std::vector<UserRecord>> ReadUsers(PgConnection& conn, const std::string& where,
                                                           const PgParam& param);
  // Tokens matching `where` ($1 = `param`), with their users, newest first.
  static absl::StatusOr<std::vector<TokenRecord>> ReadTokens(PgConnection& conn, const std::string& where,
                                                             const PgParam& param);
  static absl::Status InsertToken(PgConnection& conn, const NewToken& token);

  // Recomputes the run's latest_metrics from its current (not archived) points.
  static absl::Status RebuildLatestMetrics(PgConnection& conn, int64_t run_id);

  std::unique_ptr<PgPool> pool_;
  std::atomic<int64_t> backoff_base_us_{0};  // SetRequeueBackoff; 0: at once
  std::atomic<int64_t> backoff_max_us_{300'000'000};
};

}  // namespace gwo::server

#endif  // GWO_SERVER_STORE_PG_STORE_H_
