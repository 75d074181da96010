// PgStore: the transaction runner, schema, experiments and runs, cancellation.
#include "server/store/pg_store.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/migrations.h"

namespace gwo::server {
namespace {

// How many times a transaction is run before a lost connection or deadlock is
// returned to the caller.
constexpr int kTransactionTries = 3;

std::string IdText(int64_t id) { return absl::StrCat(id); }

ExperimentState DeriveState(bool cancelled, const std::map<RunState, int>& counts) {
  if (counts.at(RunState::kQueued) + counts.at(RunState::kRunning) > 0) return ExperimentState::kActive;
  if (cancelled) return ExperimentState::kCancelled;
  if (counts.at(RunState::kFailed) + counts.at(RunState::kCancelled) > 0) return ExperimentState::kFailed;
  return ExperimentState::kSucceeded;
}

}  // namespace

absl::Status PgStore::Run(Mode mode, const Body& body) {
  absl::Status st = RunTransaction(mode, body);
  if (!st.ok() && error_hook_) error_hook_(st);
  return st;
}

absl::Status PgStore::RunTransaction(Mode mode, const Body& body) {
  absl::Status st;
  for (int i = 0; i < kTransactionTries; ++i) {
    GWO_ASSIGN_OR_RETURN(PgPool::Lease conn, pool_->Acquire());
    bool commit_sent = false;
    if (mode == Mode::kNoTransaction) {
      st = body(*conn);
    } else {
      st = conn->Exec(mode == Mode::kReadOnly ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN")
               .status();
      if (st.ok()) st = body(*conn);
      if (st.ok()) {
        commit_sent = true;
        st = conn->Exec("COMMIT").status();
      } else if (!conn->bad()) {
        conn->Exec("ROLLBACK").IgnoreError();
      }
    }
    if (st.ok()) return st;
    // A connection lost before COMMIT rolled the transaction back; after COMMIT
    // was sent, whether it took effect is unknown, so the caller must decide.
    const bool again = st.code() == absl::StatusCode::kAborted ||
                       (st.code() == absl::StatusCode::kUnavailable && !commit_sent);
    if (!again) break;
  }
  if (st.code() == absl::StatusCode::kAborted) {
    return absl::InternalError(absl::StrCat("gave up after ", kTransactionTries, " conflicts: ", st.message()));
  }
  return st;
}

absl::Status PgStore::RequireRow(PgConnection& conn, const char* table, const char* what, int64_t id) {
  GWO_ASSIGN_OR_RETURN(PgResult r, conn.Exec(absl::StrCat("SELECT 1 FROM ", table, " WHERE id = $1"), {IdText(id)}));
  if (r.rows() == 0) return absl::NotFoundError(absl::StrCat("no ", what, " with id ", id));
  return absl::OkStatus();
}

absl::Status PgStore::FinishExperimentIfDone(PgConnection& conn, int64_t experiment_id) {
  // Lock first, then decide in a new statement: under READ COMMITTED its snapshot
  // includes whatever a concurrent finisher committed while we waited for the lock.
  GWO_RETURN_IF_ERROR(conn.Exec("SELECT 1 FROM experiments WHERE id = $1 FOR UPDATE", {IdText(experiment_id)}).status());
  return conn
      .Exec(
          "UPDATE experiments SET finished_at = now() "
          "WHERE id = $1 AND finished_at IS NULL AND NOT EXISTS ("
          "  SELECT 1 FROM runs WHERE experiment_id = $1 AND state IN ('queued', 'running'))",
          {IdText(experiment_id)})
      .status();
}

// --- Schema ---

absl::Status PgStore::Migrate() {
  return Run(Mode::kNoTransaction, [](PgConnection& conn) { return ApplyMigrations(conn); });
}

absl::StatusOr<int> PgStore::SchemaVersion() {
  int version = 0;
  GWO_RETURN_IF_ERROR(Run(Mode::kNoTransaction, [&](PgConnection& conn) -> absl::Status {
    GWO_ASSIGN_OR_RETURN(version, AppliedSchemaVersion(conn));
    return absl::OkStatus();
  }));
  return version;
}

// --- Reads ---

absl::StatusOr<std::vector<ExperimentRecord>> PgStore::ReadExperiments(PgConnection& conn, const std::string& tail,
                                                                       const std::vector<PgParam>& params) {
  GWO_ASSIGN_OR_RETURN(
      PgResult r,
      conn.Exec(absl::StrCat(
                    "SELECT e.id, e.name, e.spec_yaml, coalesce(e.idempotency_key, '') AS idempotency_key, "
                    "e.cancelled, e.project, e.owner, ",
                    UsecOf("e.created_at"), " AS created_us, ", UsecOf("e.finished_at"),
                    " AS finished_us, c.* FROM experiments e CROSS JOIN LATERAL ("
                    "  SELECT count(*) FILTER (WHERE state = 'queued') AS queued,"
                    "         count(*) FILTER (WHERE state = 'running') AS running,"
                    "         count(*) FILTER (WHERE state = 'succeeded') AS succeeded,"
                    "         count(*) FILTER (WHERE state = 'failed') AS failed,"
                    "         count(*) FILTER (WHERE state = 'cancelled') AS cancelled_runs"
                    "  FROM runs WHERE experiment_id = e.id) c ",
                    tail),
                params));
  std::vector<ExperimentRecord> out(r.rows());
  for (int i = 0; i < r.rows(); ++i) {
    ExperimentRecord& e = out[i];
    e.id = r.Int(i, "id");
    e.name = r.Text(i, "name");
    e.spec_yaml = r.Text(i, "spec_yaml");
    e.idempotency_key = r.Text(i, "idempotency_key");
    for (RunState s : {RunState::kQueued, RunState::kRunning, RunState::kSucceeded, RunState::kFailed,
                       RunState::kCancelled}) {
      const int n = static_cast<int>(r.Int(i, s == RunState::kCancelled ? "cancelled_runs" : RunStateName(s)));
      e.runs_by_state[s] = n;
      e.run_count += n;
    }
    e.state = DeriveState(r.Bool(i, "cancelled"), e.runs_by_state);
    e.created_at = r.Time(i, "created_us");
    e.finished_at = r.OptionalTime(i, "finished_us");
    e.project = r.Text(i, "project");
    e.owner = r.Text(i, "owner");
  }
  return out;
}

absl::StatusOr<std::vector<RunRecord>> PgStore::ReadRuns(PgConnection& conn, const std::string& where, int64_t id) {
  GWO_ASSIGN_OR_RETURN(
      PgResult r,
      conn.Exec(absl::StrCat("SELECT r.id, r.experiment_id, r.name, r.variant, r.dataset, r.seed, r.state, "
                             "r.attempt, r.step, r.total_steps, r.error, coalesce(w.name, '') AS worker, "
                             "r.spec_yaml, coalesce(a.output_dir, '') AS output_dir, ",
                             UsecOf("r.created_at"), " AS created_us, ", UsecOf("r.started_at"), " AS started_us, ",
                             UsecOf("r.finished_at"),
                             " AS finished_us FROM runs r LEFT JOIN workers w ON w.id = r.worker_id "
                             "LEFT JOIN attempts a ON a.run_id = r.id AND a.attempt = r.attempt WHERE ", where,
                             " ORDER BY r.id"),
                {IdText(id)}));
  std::vector<RunRecord> out(r.rows());
  std::map<int64_t, RunRecord*> by_id;
  for (int i = 0; i < r.rows(); ++i) {
    RunRecord& run = out[i];
    run.id = r.Int(i, "id");
    run.experiment_id = r.Int(i, "experiment_id");
    run.name = r.Text(i, "name");
    run.variant = r.Text(i, "variant");
    run.dataset = r.Text(i, "dataset");
    run.seed = r.Int(i, "seed");
    run.state = ParseRunState(r.Text(i, "state")).value_or(RunState::kFailed);
    run.attempt = static_cast<int>(r.Int(i, "attempt"));
    run.step = r.Int(i, "step");
    run.total_steps = r.Int(i, "total_steps");
    run.error = r.Text(i, "error");
    run.worker = r.Text(i, "worker");
    run.spec_yaml = r.Text(i, "spec_yaml");
    run.output_dir = r.Text(i, "output_dir");
    run.created_at = r.Time(i, "created_us");
    run.started_at = r.OptionalTime(i, "started_us");
    run.finished_at = r.OptionalTime(i, "finished_us");
    by_id[run.id] = &run;
  }
  if (out.empty()) return out;
  GWO_ASSIGN_OR_RETURN(PgResult m,
                       conn.Exec(absl::StrCat("SELECT m.run_id, m.name, m.value FROM latest_metrics m "
                                              "JOIN runs r ON r.id = m.run_id WHERE ",
                                              where),
                                 {IdText(id)}));
  for (int i = 0; i < m.rows(); ++i) {
    auto it = by_id.find(m.Int(i, "run_id"));
    if (it != by_id.end()) it->second->latest_metrics[m.Text(i, "name")] = m.Double(i, "value");
  }
  return out;
}

absl::StatusOr<ExperimentRecord> PgStore::GetExperiment(int64_t id) {
  ExperimentRecord out;
  GWO_RETURN_IF_ERROR(Run(Mode::kReadOnly, [&](PgConnection& conn) -> absl::Status {
    GWO_ASSIGN_OR_RETURN(std::vector<ExperimentRecord> found, ReadExperiments(conn, "WHERE e.id = $1", {IdText(id)}));
    if (found.empty()) return absl::NotFoundError(absl::StrCat("no experiment with id ", id));
    out = std::move(found[0]);
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<ExperimentRecord>> PgStore::ListExperiments(
    int limit, const std::optional<std::vector<std::string>>& projects) {
  std::vector<ExperimentRecord> out;
  // LIMIT NULL: no limit; projects NULL: all.
  const PgParam limit_param = limit > 0 ? PgParam(absl::StrCat(limit)) : std::nullopt;
  const PgParam projects_param = projects.has_value() ? PgParam(ArrayLiteral(*projects)) : std::nullopt;
  GWO_RETURN_IF_ERROR(Run(Mode::kReadOnly, [&](PgConnection& conn) -> absl::Status {
    GWO_ASSIGN_OR_RETURN(out, ReadExperiments(conn,
                                              "WHERE $2::text[] IS NULL OR e.project = ANY ($2::text[]) "
                                              "ORDER BY e.id DESC LIMIT $1::int8",
                                              {limit_param, projects_param}));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::string> PgStore::ExperimentProject(int64_t experiment_id) {
  std::string out;
  GWO_RETURN_IF_ERROR(Run(Mode::kNoTransaction, [&](PgConnection& conn) -> absl::Status {
    GWO_ASSIGN_OR_RETURN(PgResult r, conn.Exec("SELECT project FROM experiments WHERE id = $1", {IdText(experiment_id)}));
    if (r.rows() == 0) return absl::NotFoundError(absl::StrCat("no experiment with id ", experiment_id));
    out = r.Text(0, "project");
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::string> PgStore::RunProject(int64_t run_id) {
  std::string out;
  GWO_RETURN_IF_ERROR(Run(Mode::kNoTransaction, [&](PgConnection& conn) -> absl::Status {
    GWO_ASSIGN_OR_RETURN(PgResult r, conn.Exec("SELECT e.project FROM runs r JOIN experiments e ON "
                                               "e.id = r.experiment_id WHERE r.id = $1",
                                               {IdText(run_id)}));
    if (r.rows() == 0) return absl::NotFoundError(absl::StrCat("no run with id ", run_id));
    out = r.Text(0, "project");
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<RunRecord>> PgStore::ListRuns(int64_t experiment_id) {
  std::vector<RunRecord> out;
  GWO_RETURN_IF_ERROR(Run(Mode::kReadOnly, [&](PgConnection& conn) -> absl::Status {
    GWO_RETURN_IF_ERROR(RequireRow(conn, "experiments", "experiment", experiment_id));
    GWO_ASSIGN_OR_RETURN(out, ReadRuns(conn, "r.experiment_id = $1", experiment_id));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<RunRecord> PgStore::GetRun(int64_t run_id) {
  RunRecord out;
  GWO_RETURN_IF_ERROR(Run(Mode::kReadOnly, [&](PgConnection& conn) -> absl::Status {
    GWO_ASSIGN_OR_RETURN(std::vector<RunRecord> found, ReadRuns(conn, "r.id = $1", run_id));
    if (found.empty()) return absl::NotFoundError(absl::StrCat("no run with id ", run_id));
    out = std::move(found[0]);
    return absl::OkStatus();
  }));
  return out;
}

// --- Creation ---

absl::StatusOr<ExperimentRecord> PgStore::CreateExperiment(const std::string& name, const std::string& spec_yaml,
                                                           const std::string& idempotency_key,
                                                           const std::vector<NewRun>& runs, bool* created,
                                                           const std::string& owner) {
  std::set<std::string> names;
  std::vector<std::string> run_names, variants, datasets, specs;
  std::vector<int64_t> seeds, total_steps, max_restarts, priorities, gpus, gpu_memory;
  std::vector<std::string> projects, dep_from, dep_to;
  for (const NewRun& run : runs) names.insert(run.name);
  if (names.size() != runs.size()) names.clear();  // reported below
  for (const NewRun& run : runs) {
    for (const std::string& dep : run.depends_on) {
      if (!names.count(dep)) {
        return absl::InvalidArgumentError(
            absl::StrCat("run \"", run.name, "\" depends on \"", dep, "\", which is not a run of the experiment"));
      }
      dep_from.push_back(SanitizeText(run.name));
      dep_to.push_back(SanitizeText(dep));
    }
    projects.push_back(SanitizeText(run.project));
    gpus.push_back(run.gpus);
    gpu_memory.push_back(run.gpu_memory_bytes);
  }
  names.clear();
  for (const NewRun& run : runs) {
    if (!names.insert(run.name).second) {
      return absl::InvalidArgumentError(absl::StrCat("two runs are named \"", run.name, "\""));
    }
    run_names.push_back(SanitizeText(run.name));
    variants.push_back(SanitizeText(run.variant));
    datasets.push_back(SanitizeText(run.dataset));
    specs.push_back(SanitizeText(run.spec_yaml));
    seeds.push_back(run.seed);
    total_steps.push_back(run.total_steps);
    max_restarts.push_back(run.max_restarts);
    priorities.push_back(run.priority);
  }
  const PgParam key = idempotency_key.empty() ? std::nullopt : PgParam(SanitizeText(idempotency_key));
  const std::string project = runs.empty() ? "default" : runs.front().project;
  for (const NewRun& run : runs) {
    if (run.project != project) {
      return absl::InvalidArgumentError(absl::StrCat("runs of one experiment in two projects (\"", project,
                                                     "\", \"", run.project, "\")"));
    }
  }
  ExperimentRecord out;
  bool made = false;
  GWO_RETURN_IF_ERROR(Run(Mode::kReadWrite, [&](PgConnection& conn) -> absl::Status {
    made = false;
    // A concurrent insert of the same key makes this one wait for it to commit,
    // then do nothing; the SELECT below (a new snapshot) then sees the winner.
    GWO_ASSIGN_OR_RETURN(PgResult ins,
                         conn.Exec("INSERT INTO experiments (name, spec_yaml, idempotency_key, project, owner) "
                                   "VALUES ($1, $2, $3, $4, $5) "
                                   "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
                                   {SanitizeText(name), SanitizeText(spec_yaml), key, SanitizeText(project),
                                    SanitizeText(owner)}));
    int64_t id = 0;
    if (ins.rows() == 1) {
      id = ins.Int(0, "id");
      made = true;
      GWO_RETURN_IF_ERROR(
          conn.Exec("INSERT INTO runs (experiment_id, name, variant, dataset, seed, spec_yaml, total_steps, "
                    "max_restarts, priority, project, gpus, gpu_memory_bytes) "
                    "SELECT $1, t.name, t.variant, t.dataset, t.seed, t.spec, t.total_steps, t.max_restarts, "
                    "t.priority, t.project, t.gpus, t.gpu_memory FROM unnest($2::text[], $3::text[], $4::text[], "
                    "$5::int8[], $6::text[], $7::int8[], $8::int4[], $9::int4[], $10::text[], $11::int4[], "
                    "$12::int8[]) WITH ORDINALITY AS t(name, variant, dataset, seed, spec, total_steps, "
                    "max_restarts, priority, project, gpus, gpu_memory, ord) "
                    "ORDER BY t.ord",
                    {IdText(id), ArrayLiteral(run_names), ArrayLiteral(variants), ArrayLiteral(datasets),
                     ArrayLiteral(seeds), ArrayLiteral(specs), ArrayLiteral(total_steps),
                     ArrayLiteral(max_restarts), ArrayLiteral(priorities), ArrayLiteral(projects),
                     ArrayLiteral(gpus), ArrayLiteral(gpu_memory)})
              .status());
      if (!dep_from.empty()) {
        GWO_RETURN_IF_ERROR(conn.Exec("INSERT INTO run_dependencies (run_id, depends_on) "
                                      "SELECT r.id, t.id FROM unnest($2::text[], $3::text[]) AS d(name, dep) "
                                      "JOIN runs r ON r.experiment_id = $1 AND r.name = d.name "
                                      "JOIN runs t ON t.experiment_id = $1 AND t.name = d.dep",
                                      {IdText(id), ArrayLiteral(dep_from), ArrayLiteral(dep_to)})
                                .status());
      }
      GWO_RETURN_IF_ERROR(FinishExperimentIfDone(conn, id));  // an experiment without runs
    } else {
      GWO_ASSIGN_OR_RETURN(PgResult existing,
                           conn.Exec("SELECT id FROM experiments WHERE idempotency_key = $1", {key}));
      // Gone again (deleted meanwhile): run the transaction again.
      if (existing.rows() == 0) return absl::AbortedError("experiment with this idempotency key vanished");
      id = existing.Int(0, "id");
    }
    GWO_ASSIGN_OR_RETURN(std::vector<ExperimentRecord> found, ReadExperiments(conn, "WHERE e.id = $1", {IdText(id)}));
    if (found.empty()) return absl::InternalError("the experiment just written cannot be read");
    out = std::move(found[0]);
    return absl::OkStatus();
  }));
  if (created != nullptr) *created = made;
  return out;
}

// --- Cancellation ---

absl::StatusOr<std::vector<AttemptOnWorker>> PgStore::CancelExperiment(int64_t id) {
  std::vector<AttemptOnWorker> out;
  GWO_RETURN_IF_ERROR(Run(Mode::kReadWrite, [&](PgConnection& conn) -> absl::Status {
    out.clear();
    GWO_RETURN_IF_ERROR(RequireRow(conn, "experiments", "experiment", id));
    GWO_ASSIGN_OR_RETURN(
        PgResult r,
        conn.Exec("WITH c AS ("
                  "  SELECT id, state, attempt, worker_id FROM runs"
                  "  WHERE experiment_id = $1 AND state IN ('queued', 'running')"
                  "  ORDER BY id FOR NO KEY UPDATE),"
                  " runs_done AS ("
                  "  UPDATE runs r SET state = 'cancelled', finished_at = now() FROM c WHERE r.id = c.id),"
                  " attempts_done AS ("
                  "  UPDATE attempts a SET state = 'cancelled', finished_at = now() FROM c"
                  "  WHERE c.state = 'running' AND a.run_id = c.id AND a.attempt = c.attempt)"
                  "SELECT id, state, attempt, coalesce(worker_id, 0) AS worker_id FROM c ORDER BY id",
                  {IdText(id)}));
    for (int i = 0; i < r.rows(); ++i) {
      if (r.Text(i, "state") != "running") continue;
      out.push_back({r.Int(i, "id"), static_cast<int>(r.Int(i, "attempt")), r.Int(i, "worker_id")});
    }
    // An experiment whose runs had all ended before is left as it was.
    if (r.rows() > 0) {
      GWO_RETURN_IF_ERROR(conn.Exec("UPDATE experiments SET cancelled = true WHERE id = $1", {IdText(id)}).status());
    }
    return FinishExperimentIfDone(conn, id);
  }));
  return out;
}

absl::StatusOr<std::optional<AttemptOnWorker>> PgStore::CancelRun(int64_t run_id, bool* cancelled) {
  std::optional<AttemptOnWorker> out;
  bool did_cancel = false;
  GWO_RETURN_IF_ERROR(Run(Mode::kReadWrite, [&](PgConnection& conn) -> absl::Status {
    out.reset();
    did_cancel = false;
    GWO_ASSIGN_OR_RETURN(PgResult r, conn.Exec("SELECT experiment_id, state, attempt, coalesce(worker_id, 0) "
                                               "AS worker_id FROM runs WHERE id = $1 FOR NO KEY UPDATE",
                                               {IdText(run_id)}));
    if (r.rows() == 0) return absl::NotFoundError(absl::StrCat("no run with id ", run_id));
    const std::string state = r.Text(0, "state");
    if (state != "queued" && state != "running") return absl::OkStatus();
    did_cancel = true;
    GWO_RETURN_IF_ERROR(
        conn.Exec("UPDATE runs SET state = 'cancelled', finished_at = now() WHERE id = $1", {IdText(run_id)})
            .status());
    if (state == "running") {
      const int attempt = static_cast<int>(r.Int(0, "attempt"));
      GWO_RETURN_IF_ERROR(conn.Exec("UPDATE attempts SET state = 'cancelled', finished_at = now() "
                                    "WHERE run_id = $1 AND attempt = $2",
                                    {IdText(run_id), absl::StrCat(attempt)})
                              .status());
      out = AttemptOnWorker{run_id, attempt, r.Int(0, "worker_id")};
    }
    return FinishExperimentIfDone(conn, r.Int(0, "experiment_id"));
  }));
  if (cancelled != nullptr) *cancelled = did_cancel;
  return out;
}

}  // namespace gwo::server
