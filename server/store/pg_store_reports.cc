// PgStore: workers, claims, fenced reports from attempts, and reads of results.
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/pg_store.h"

namespace gwo::server {
namespace {

std::string IdText(int64_t id) { return absl::StrCat(id); }

std::vector<AttemptOnWorker> ReadAttempts(const PgResult& r) {
  std::vector<AttemptOnWorker> out;
  for (int i = 0; i < r.rows(); ++i) {
    out.push_back({r.Int(i, "id"), static_cast<int>(r.Int(i, "attempt")), r.Int(i, "worker_id")});
  }
  return out;
}

}  // namespace

// --- Workers ---

absl::StatusOr<int64_t> PgStore::UpsertWorker(const WorkerInfo& info) {
  if (info.name.empty()) return absl::InvalidArgumentError("a worker needs a name");
  int64_t id = 0;
  GWO_RETURN_IF_ERROR(Run(Mode::kReadWrite, [&](PgConnection& conn) -> absl::Status {
    GWO_ASSIGN_OR_RETURN(
        PgResult r,
        conn.Exec("INSERT INTO workers (name, hostname, devices, slots) VALUES ($1, $2, $3, $4) "
                  "ON CONFLICT (name) DO UPDATE SET hostname = excluded.hostname, devices = excluded.devices, "
                  "slots = excluded.slots, online = true, last_seen = now() RETURNING id",
                  {SanitizeText(info.name), SanitizeText(info.hostname), SanitizeText(info.devices_json),
                   absl::StrCat(info.slots)}));
    id = r.Int(0, "id");
    return absl::OkStatus();
  }));
  return id;
}

absl::Status PgStore::MarkWorkerOffline(int64_t worker_id) {
  return Run(Mode::kReadWrite, [&](PgConnection& conn) -> absl::Status {
    GWO_ASSIGN_OR_RETURN(PgResult r, conn.Exec("UPDATE workers SET online = false, last_seen = now() WHERE id = $1",
                                               {IdText(worker_id)}));
    if (r.affected() == 0) return absl::NotFoundError(absl::StrCat("no worker with id ", worker_id));
    return absl::OkStatus();
  });
}

// --- Scheduling ---

absl::StatusOr<std::optional<Assignment>> PgStore::ClaimNextRun(int64_t worker_id) {
  std::optional<Assignment> out;
  GWO_RETURN_IF_ERROR(Run(Mode::kReadWrite, [&](PgConnection& conn) -> absl::Status {
    GWO_ASSIGN_OR_RETURN(out, ClaimPicked(conn,
                                          "SELECT id FROM runs WHERE state = 'queued' AND "
                                          "(not_before IS NULL OR not_before <= now()) "
                                          "ORDER BY priority DESC, id LIMIT 1 FOR NO KEY UPDATE SKIP LOCKED",
                                          {}, worker_id, {}, std::nullopt));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<AttemptOnWorker>> PgStore::RunningAttempts(int64_t worker_id) {
  std::vector<AttemptOnWorker> out;
  GWO_RETURN_IF_ERROR(Run(Mode::kReadOnly, [&](PgConnection& conn) -> absl::Status {
    GWO_RETURN_IF_ERROR(RequireRow(conn, "workers", "worker", worker_id));
    GWO_ASSIGN_OR_RETURN(PgResult r, conn.Exec("SELECT id, attempt, worker_id FROM runs "
                                               "WHERE worker_id = $1 AND state = 'running' ORDER BY id",
                                               {IdText(worker_id)}));
    out = ReadAttempts(r);
    return absl::OkStatus();
  }));
  return out;
}

absl::Status PgStore::ReleaseWorkerAttempts(int64_t worker_id, const std::string& reason,
                                            const std::vector<int64_t>& keep_runs) {
  const std::string not_before = NotBeforeSql("lost.attempt");
  return Run(Mode::kReadWrite, [&](PgConnection& conn) -> absl::Status {
    GWO_RETURN_IF_ERROR(RequireRow(conn, "workers", "worker", worker_id));
    // Attempt n is restart n-1: a run gets 1 + max_restarts attempts in all.
    GWO_ASSIGN_OR_RETURN(
        PgResult r,
        conn.Exec("WITH lost AS ("
                  "  SELECT id, attempt, attempt - preempted_attempts <= max_restarts AS again FROM runs"
                  "  WHERE worker_id = $1 AND state = 'running' AND NOT (id = ANY($3::int8[]))"
                  "  ORDER BY id FOR NO KEY UPDATE),"
                  " attempts_done AS ("
                  "  UPDATE attempts a SET state = 'lost', error = $2, finished_at = now() FROM lost"
                  "  WHERE a.run_id = lost.id AND a.attempt = lost.attempt) "
                  "UPDATE runs r SET"
                  " state = CASE WHEN lost.again THEN 'queued' ELSE 'failed' END,"
                  " worker_id = CASE WHEN lost.again THEN NULL ELSE r.worker_id END,"
                  " error = CASE WHEN lost.again THEN '' ELSE $2 END,"
                  " finished_at = CASE WHEN lost.again THEN NULL ELSE now() END,"
                  " not_before = CASE WHEN lost.again THEN " + not_before + " ELSE NULL END "
                  "FROM lost WHERE r.id = lost.id RETURNING r.experiment_id, r.state",
                  {IdText(worker_id), SanitizeText(reason), ArrayLiteral(keep_runs)}));
    std::set<int64_t> experiments;  // in id order, the order experiment rows are locked
    for (int i = 0; i < r.rows(); ++i) {
      if (r.Text(i, "state") == "failed") experiments.insert(r.Int(i, "experiment_id"));
    }
    for (int64_t id : experiments) GWO_RETURN_IF_ERROR(FinishExperimentIfDone(conn, id));
    return absl::OkStatus();
  });
}

// --- Reports ---

absl::StatusOr<int64_t> PgStore::LockCurrentAttempt(PgConnection& conn, int64_t run_id, int attempt) {
  GWO_ASSIGN_OR_RETURN(PgResult r, conn.Exec("SELECT experiment_id, state, attempt FROM runs WHERE id = $1 "
                                             "FOR NO KEY UPDATE",
                                             {IdText(run_id)}));
  if (r.rows() == 0) return absl::NotFoundError(absl::StrCat("no run with id ", run_id));
  const int current = static_cast<int>(r.Int(0, "attempt"));
  const std::string state = r.Text(0, "state");
  if (current != attempt || state != "running") {
    return absl::FailedPreconditionError(absl::StrCat("run ", run_id, " attempt ", attempt,
                                                      " is not the running attempt (current attempt ", current,
                                                      ", state ", state, "); report refused"));
  }
  return r.Int(0, "experiment_id");
}

PgStore::PointColumns::PointColumns(const std::vector<MetricPointRecord>& points) {
  std::vector<int64_t> step_values;
  std::vector<std::string> name_values;
  std::vector<double> value_values;
  for (const MetricPointRecord& p : points) {
    step_values.push_back(p.step);
    name_values.push_back(SanitizeText(p.name));
    value_values.push_back(p.value);
  }
  steps = ArrayLiteral(step_values);
  names = ArrayLiteral(name_values);
  values = ArrayLiteral(value_values);
}

absl::Status PgStore::RecordMetrics(int64_t run_id, int attempt, const std::vector<MetricPointRecord>& points) {
  const PointColumns columns(points);
  return Run(Mode::kReadWrite, [&](PgConnection& conn) -> absl::Status {
    GWO_RETURN_IF_ERROR(LockCurrentAttempt(conn, run_id, attempt).status());
    if (points.empty()) return absl::OkStatus();
    // One statement: the new points, then the latest point per name among those
    // actually inserted (a replayed point changes nothing), then the run's step.
    return conn
        .Exec("WITH pts AS ("
              "  SELECT * FROM unnest($3::int8[], $4::text[], $5::float8[]) AS t(step, name, value)),"
              " ins AS ("
              "  INSERT INTO metrics (run_id, name, step, attempt, value)"
              "  SELECT $1, name, step, $2, value FROM pts ON CONFLICT DO NOTHING RETURNING name, step, value),"
              " top AS (SELECT DISTINCT ON (name) name, step, value FROM ins ORDER BY name, step DESC),"
              " latest AS ("
              "  INSERT INTO latest_metrics AS l (run_id, name, step, attempt, value)"
              "  SELECT $1, name, step, $2, value FROM top"
              "  ON CONFLICT (run_id, name) DO UPDATE"
              "  SET step = excluded.step, attempt = excluded.attempt, value = excluded.value"
              "  WHERE (excluded.step, excluded.attempt) >= (l.step, l.attempt)) "
              "UPDATE runs SET step = greatest(step, (SELECT max(step) FROM pts)) WHERE id = $1",
              {IdText(run_id), absl::StrCat(attempt), columns.steps, columns.names, columns.values})
        .status();
  });
}

absl::Status PgStore::AppendLogs(int64_t run_id, int attempt, const std::vector<std::string>& lines,
                                 int64_t first_line) {
  // Line numbers: NULL when unnumbered (never a conflict).
  const PgParam first = first_line > 0 ? PgParam(absl::StrCat(first_line)) : std::nullopt;
  std::vector<std::string> clean;
  for (const std::string& line : lines) clean.push_back(SanitizeText(line));
  return Run(Mode::kReadWrite, [&](PgConnection& conn) -> absl::Status {
    GWO_RETURN_IF_ERROR(LockCurrentAttempt(conn, run_id, attempt).status());
    if (clean.empty()) return absl::OkStatus();
    return conn
        .Exec("INSERT INTO run_logs (run_id, attempt, line, line_no) "
              "SELECT $1, $2, t.line, $4::int8 + t.ord - 1 FROM unnest($3::text[]) WITH ORDINALITY AS t(line, ord) "
              "ORDER BY t.ord ON CONFLICT (run_id, attempt, line_no) DO NOTHING",
              {IdText(run_id), absl::StrCat(attempt), ArrayLiteral(clean), first})
        .status();
  });
}

absl::Status PgStore::RecordAttemptOutput(int64_t run_id, int attempt, const std::string& output_dir) {
  return Run(Mode::kReadWrite, [&](PgConnection& conn) -> absl::Status {
    GWO_RETURN_IF_ERROR(LockCurrentAttempt(conn, run_id, attempt).status());
    return conn
        .Exec("UPDATE attempts SET output_dir = $3 WHERE run_id = $1 AND attempt = $2",
              {IdText(run_id), absl::StrCat(attempt), SanitizeText(output_dir)})
        .status();
  });
}

absl::Status PgStore::FinishAttempt(int64_t run_id, int attempt, RunState state, const std::string& error,
                                    bool retryable) {
  const std::string not_before = NotBeforeSql("attempt");
  if (!IsTerminal(state)) {
    return absl::InvalidArgumentError(
        absl::StrCat("an attempt cannot finish as ", RunStateName(state), "; use succeeded, failed or cancelled"));
  }
  return Run(Mode::kReadWrite, [&](PgConnection& conn) -> absl::Status {
    GWO_ASSIGN_OR_RETURN(const int64_t experiment_id, LockCurrentAttempt(conn, run_id, attempt));
    if (state != RunState::kSucceeded) {
      // An attempt stopped for preemption: queued again, the restart not counted.
      GWO_ASSIGN_OR_RETURN(PgResult p, conn.Exec("UPDATE attempts SET state = 'preempted', error = 'preempted', "
                                                 "finished_at = now() WHERE run_id = $1 AND attempt = $2 AND "
                                                 "preempt_requested RETURNING 1",
                                                 {IdText(run_id), absl::StrCat(attempt)}));
      if (p.rows() == 1) {
        return conn
            .Exec("UPDATE runs SET state = 'queued', worker_id = NULL, error = '', "
                  "preempted_attempts = preempted_attempts + 1 WHERE id = $1",
                  {IdText(run_id)})
            .status();
      }
    }
    const std::vector<PgParam> params = {IdText(run_id), absl::StrCat(attempt), RunStateName(state),
                                         SanitizeText(error)};
    GWO_RETURN_IF_ERROR(conn.Exec("UPDATE attempts SET state = $3, error = $4, finished_at = now() "
                                  "WHERE run_id = $1 AND attempt = $2",
                                  params)
                            .status());
    if (state == RunState::kFailed && retryable) {
      // Attempt n is restart n-1: a run gets 1 + max_restarts attempts in all.
      GWO_ASSIGN_OR_RETURN(PgResult again,
                           conn.Exec("UPDATE runs SET state = 'queued', worker_id = NULL, error = $3, "
                                     "not_before = " + not_before + " WHERE id = $1 AND attempt = $2 "
                                     "AND attempt - preempted_attempts <= max_restarts",
                                     {IdText(run_id), absl::StrCat(attempt),
                                      SanitizeText(absl::StrCat("attempt ", attempt, " failed, retrying: ", error))}));
      if (again.affected() > 0) return absl::OkStatus();
    }
    GWO_RETURN_IF_ERROR(conn.Exec("UPDATE runs SET state = $3, error = $4, finished_at = now() "
                                  "WHERE id = $1 AND attempt = $2",
                                  params)
                            .status());
    return FinishExperimentIfDone(conn, experiment_id);
  });
}

// --- Reads of results ---

absl::StatusOr<std::vector<MetricSeriesRecord>> PgStore::QueryMetrics(int64_t run_id,
                                                                      const std::vector<std::string>& names) {
  const PgParam names_param = names.empty() ? std::nullopt : PgParam(ArrayLiteral(names));
  std::vector<MetricSeriesRecord> out;
  GWO_RETURN_IF_ERROR(Run(Mode::kReadOnly, [&](PgConnection& conn) -> absl::Status {
    GWO_RETURN_IF_ERROR(RequireRow(conn, "runs", "run", run_id));
    GWO_ASSIGN_OR_RETURN(PgResult r, conn.Exec("SELECT DISTINCT ON (name, step) name, step, value FROM metrics "
                                               "WHERE run_id = $1 AND NOT archived "
                                               "AND ($2::text[] IS NULL OR name = ANY($2)) "
                                               "ORDER BY name, step, attempt DESC",
                                               {IdText(run_id), names_param}));
    // Grouped in a std::map so names sort bytewise whatever the database collation.
    std::map<std::string, std::vector<MetricPointRecord>> series;
    for (int i = 0; i < r.rows(); ++i) {
      std::string name = r.Text(i, "name");
      series[name].push_back({r.Int(i, "step"), name, r.Double(i, "value")});
    }
    out.clear();
    for (auto& [name, points] : series) out.push_back({name, std::move(points)});
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<std::string>> PgStore::TailLogs(int64_t run_id, int n) {
  std::vector<std::string> out;
  GWO_RETURN_IF_ERROR(Run(Mode::kReadOnly, [&](PgConnection& conn) -> absl::Status {
    GWO_RETURN_IF_ERROR(RequireRow(conn, "runs", "run", run_id));
    GWO_ASSIGN_OR_RETURN(PgResult r, conn.Exec("SELECT line FROM ("
                                               "  SELECT id, line FROM run_logs WHERE run_id = $1"
                                               "  ORDER BY id DESC LIMIT $2) t ORDER BY id",
                                               {IdText(run_id), absl::StrCat(std::max(n, 0))}));
    out.clear();
    for (int i = 0; i < r.rows(); ++i) out.push_back(r.Text(i, "line"));
    return absl::OkStatus();
  }));
  return out;
}

}  // namespace gwo::server
