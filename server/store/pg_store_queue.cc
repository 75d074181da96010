// PgStore: the scheduler's view of the queue, claims of a chosen run, failing
// stages whose dependency failed, and preemption requests.
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "server/store/pg_store.h"

namespace gwo::server {
namespace {

std::string IdText(int64_t id) { return absl::StrCat(id); }

// "{1,2}" (a PostgreSQL int[] in text form) -> {1, 2}.
std::vector<int> ParseIntArray(const std::string& text) {
  std::vector<int> out;
  if (text.size() < 2) return out;
  for (absl::string_view part : absl::StrSplit(text.substr(1, text.size() - 2), ',', absl::SkipEmpty())) {
    int v = 0;
    if (absl::SimpleAtoi(part, &v)) out.push_back(v);
  }
  return out;
}

}  // namespace

absl::StatusOr<QueueSnapshot> PgStore::ReadQueue() {
  QueueSnapshot out;
  GWO_RETURN_IF_ERROR(Run(Mode::kReadOnly, [&](PgConnection& conn) -> absl::Status {
    out = QueueSnapshot();
    GWO_ASSIGN_OR_RETURN(PgResult q, conn.Exec(absl::StrCat("SELECT id, experiment_id, name, project, priority, gpus, "
                                               "gpu_memory_bytes, total_steps, spec_yaml, ", UsecOf("not_before"), " AS not_before_us FROM runs "
                                               "WHERE state = 'queued' ORDER BY id")));
    std::map<int64_t, size_t> index;
    for (int i = 0; i < q.rows(); ++i) {
      QueueSnapshot::Queued r;
      r.run_id = q.Int(i, "id");
      r.experiment_id = q.Int(i, "experiment_id");
      r.name = q.Text(i, "name");
      r.project = q.Text(i, "project");
      r.priority = static_cast<int>(q.Int(i, "priority"));
      r.gpus = static_cast<int>(q.Int(i, "gpus"));
      r.gpu_memory_bytes = q.Int(i, "gpu_memory_bytes");
      r.total_steps = q.Int(i, "total_steps");
      r.spec_yaml = q.Text(i, "spec_yaml");
      r.not_before = q.OptionalTime(i, "not_before_us");
      index[r.run_id] = out.queued.size();
      out.queued.push_back(std::move(r));
    }
    GWO_ASSIGN_OR_RETURN(
        PgResult d,
        conn.Exec("SELECT d.run_id, t.id, t.name, t.variant, t.state, coalesce(a.output_dir, '') AS output_dir "
                  "FROM run_dependencies d JOIN runs r ON r.id = d.run_id AND r.state = 'queued' "
                  "JOIN runs t ON t.id = d.depends_on "
                  "LEFT JOIN attempts a ON a.run_id = t.id AND a.attempt = t.attempt ORDER BY d.run_id, t.id"));
    for (int i = 0; i < d.rows(); ++i) {
      auto it = index.find(d.Int(i, "run_id"));
      if (it == index.end()) continue;  // queued after the first read
      DependencyRecord dep;
      dep.run_id = d.Int(i, "id");
      dep.name = d.Text(i, "name");
      dep.variant = d.Text(i, "variant");
      dep.state = ParseRunState(d.Text(i, "state")).value_or(RunState::kFailed);
      dep.output_dir = d.Text(i, "output_dir");
      out.queued[it->second].depends_on.push_back(std::move(dep));
    }
    GWO_ASSIGN_OR_RETURN(
        PgResult r, conn.Exec(absl::StrCat("SELECT r.id, r.attempt, r.worker_id, r.name, r.project, r.priority, "
                                           "r.step, r.total_steps, a.gpus::text AS gpus, a.preempt_requested, ",
                                           UsecOf("a.started_at"),
                                           " AS started_us FROM runs r JOIN attempts a ON a.run_id = r.id AND "
                                           "a.attempt = r.attempt WHERE r.state = 'running' AND r.worker_id IS NOT "
                                           "NULL ORDER BY r.id")));
    for (int i = 0; i < r.rows(); ++i) {
      QueueSnapshot::Running a;
      a.run_id = r.Int(i, "id");
      a.attempt = static_cast<int>(r.Int(i, "attempt"));
      a.worker_id = r.Int(i, "worker_id");
      a.name = r.Text(i, "name");
      a.project = r.Text(i, "project");
      a.priority = static_cast<int>(r.Int(i, "priority"));
      a.step = r.Int(i, "step");
      a.total_steps = r.Int(i, "total_steps");
      a.gpus = ParseIntArray(r.Text(i, "gpus"));
      a.preempt_requested = r.Bool(i, "preempt_requested");
      a.attempt_started = r.Time(i, "started_us");
      out.running.push_back(std::move(a));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::optional<Assignment>> PgStore::ClaimPicked(PgConnection& conn, const std::string& pick,
                                                               std::vector<PgParam> params, int64_t worker_id,
                                                               const std::vector<int>& gpus, const PgParam& spec) {
  GWO_RETURN_IF_ERROR(RequireRow(conn, "workers", "worker", worker_id));
  params.insert(params.begin(), {IdText(worker_id), spec});
  // SKIP LOCKED: a run another transaction (another coordinator) is claiming is
  // passed over, and one claimed meanwhile fails the state test.
  GWO_ASSIGN_OR_RETURN(
      PgResult r,
      conn.Exec(absl::StrCat("WITH next AS (", pick,
                             ") UPDATE runs r SET state = 'running', attempt = r.attempt + 1, worker_id = $1, "
                             "step = 0, error = '', started_at = coalesce(r.started_at, now()), finished_at = NULL, "
                             "spec_yaml = coalesce($2, r.spec_yaml) "
                             "FROM next WHERE r.id = next.id RETURNING r.id, r.attempt, r.name, r.spec_yaml"),
                params));
  if (r.rows() == 0) return std::nullopt;
  Assignment a{r.Int(0, "id"), static_cast<int>(r.Int(0, "attempt")), r.Text(0, "name"), r.Text(0, "spec_yaml"),
               gpus, {}};
  const std::vector<int64_t> gpu_list(gpus.begin(), gpus.end());
  GWO_RETURN_IF_ERROR(conn.Exec("INSERT INTO attempts (run_id, attempt, worker_id, state, gpus) "
                                "VALUES ($1, $2, $3, 'running', $4::int4[])",
                                {IdText(a.run_id), absl::StrCat(a.attempt), IdText(worker_id),
                                 ArrayLiteral(gpu_list)})
                          .status());
  GWO_ASSIGN_OR_RETURN(a.resume_dirs, EarlierOutputDirs(conn, a.run_id, a.attempt));
  return a;
}

absl::StatusOr<std::optional<Assignment>> PgStore::ClaimRun(int64_t run_id, int64_t worker_id,
                                                            const std::vector<int>& gpus,
                                                            const std::string& resolved_spec_yaml) {
  const PgParam spec = resolved_spec_yaml.empty() ? std::nullopt : PgParam(SanitizeText(resolved_spec_yaml));
  std::optional<Assignment> out;
  GWO_RETURN_IF_ERROR(Run(Mode::kReadWrite, [&](PgConnection& conn) -> absl::Status {
    GWO_ASSIGN_OR_RETURN(out, ClaimPicked(conn,
                                          "SELECT id FROM runs WHERE id = $3 AND state = 'queued' AND "
                                          "(not_before IS NULL OR not_before <= now()) FOR NO KEY UPDATE SKIP LOCKED",
                                          {IdText(run_id)}, worker_id, gpus, spec));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<bool> PgStore::FailQueuedRun(int64_t run_id, const std::string& reason) {
  bool failed = false;
  GWO_RETURN_IF_ERROR(Run(Mode::kReadWrite, [&](PgConnection& conn) -> absl::Status {
    GWO_ASSIGN_OR_RETURN(PgResult r, conn.Exec("UPDATE runs SET state = 'failed', error = $2, finished_at = now() "
                                               "WHERE id = $1 AND state = 'queued' RETURNING experiment_id",
                                               {IdText(run_id), SanitizeText(reason)}));
    failed = r.rows() == 1;
    if (!failed) return absl::OkStatus();
    return FinishExperimentIfDone(conn, r.Int(0, "experiment_id"));
  }));
  return failed;
}

absl::Status PgStore::RequestPreemption(int64_t run_id, int attempt) {
  return Run(Mode::kReadWrite, [&](PgConnection& conn) -> absl::Status {
    GWO_RETURN_IF_ERROR(LockCurrentAttempt(conn, run_id, attempt).status());
    return conn
        .Exec("UPDATE attempts SET preempt_requested = true WHERE run_id = $1 AND attempt = $2",
              {IdText(run_id), absl::StrCat(attempt)})
        .status();
  });
}

}  // namespace gwo::server
