// PgStore: what recovery from lost workers and attempts needs: the requeue
// backoff, the workers to watch after a restart, earlier attempts' outputs, and
// the metric points an attempt inherits (backfill) or supersedes (archive).
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/pg_store.h"

namespace gwo::server {
namespace {

std::string IdText(int64_t id) { return absl::StrCat(id); }

}  // namespace

void PgStore::SetRequeueBackoff(absl::Duration base, absl::Duration max) {
  backoff_base_us_ = std::max<int64_t>(0, absl::ToInt64Microseconds(base));
  backoff_max_us_ = std::max<int64_t>(0, absl::ToInt64Microseconds(max));
}

std::string PgStore::NotBeforeSql(const std::string& attempt_column) const {
  // The exponent is capped so that power() stays finite whatever the attempt count.
  return absl::StrCat("(now() + least(", backoff_base_us_.load(), " * power(2, least(", attempt_column,
                      ", 40) - 1), ", backoff_max_us_.load(), ") * interval '1 microsecond')");
}

absl::StatusOr<std::map<int64_t, std::string>> PgStore::WorkersWithRunningAttempts() {
  std::map<int64_t, std::string> out;
  GWO_RETURN_IF_ERROR(Run(Mode::kReadOnly, [&](PgConnection& conn) -> absl::Status {
    GWO_ASSIGN_OR_RETURN(PgResult r, conn.Exec("SELECT DISTINCT w.id, w.name FROM workers w "
                                               "JOIN runs r ON r.worker_id = w.id AND r.state = 'running'"));
    out.clear();
    for (int i = 0; i < r.rows(); ++i) out[r.Int(i, "id")] = r.Text(i, "name");
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<std::string>> PgStore::EarlierOutputDirs(PgConnection& conn, int64_t run_id,
                                                                    int attempt) {
  GWO_ASSIGN_OR_RETURN(PgResult r, conn.Exec("SELECT output_dir FROM attempts WHERE run_id = $1 AND attempt < $2 "
                                             "AND output_dir <> '' ORDER BY attempt DESC",
                                             {IdText(run_id), absl::StrCat(attempt)}));
  std::vector<std::string> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(r.Text(i, "output_dir"));
  return out;
}

absl::Status PgStore::RebuildLatestMetrics(PgConnection& conn, int64_t run_id) {
  GWO_RETURN_IF_ERROR(conn.Exec("DELETE FROM latest_metrics WHERE run_id = $1", {IdText(run_id)}).status());
  return conn
      .Exec("INSERT INTO latest_metrics (run_id, name, step, attempt, value) "
            "SELECT DISTINCT ON (name) run_id, name, step, attempt, value FROM metrics "
            "WHERE run_id = $1 AND NOT archived ORDER BY name, step DESC, attempt DESC",
            {IdText(run_id)})
      .status();
}

absl::Status PgStore::BackfillMetrics(int64_t run_id, int attempt, const std::vector<MetricPointRecord>& points) {
  std::vector<int64_t> steps;
  std::vector<std::string> names;
  std::vector<double> values;
  for (const MetricPointRecord& p : points) {
    steps.push_back(p.step);
    names.push_back(SanitizeText(p.name));
    values.push_back(p.value);
  }
  return Run(Mode::kReadWrite, [&](PgConnection& conn) -> absl::Status {
    GWO_RETURN_IF_ERROR(LockCurrentAttempt(conn, run_id, attempt).status());
    if (points.empty()) return absl::OkStatus();
    // The run row is locked, so no other report of this run inserts meanwhile.
    GWO_ASSIGN_OR_RETURN(
        PgResult ins,
        conn.Exec("INSERT INTO metrics (run_id, name, step, attempt, value) "
                  "SELECT DISTINCT ON (t.name, t.step) $1, t.name, t.step, $2, t.value "
                  "FROM unnest($3::int8[], $4::text[], $5::float8[]) AS t(step, name, value) "
                  "WHERE NOT EXISTS (SELECT 1 FROM metrics m WHERE m.run_id = $1 AND m.name = t.name "
                  "  AND m.step = t.step AND NOT m.archived) "
                  "ORDER BY t.name, t.step ON CONFLICT DO NOTHING",
                  {IdText(run_id), absl::StrCat(attempt), ArrayLiteral(steps), ArrayLiteral(names),
                   ArrayLiteral(values)}));
    if (ins.affected() == 0) return absl::OkStatus();
    GWO_RETURN_IF_ERROR(conn.Exec("UPDATE runs SET step = greatest(step, (SELECT max(s) FROM unnest($2::int8[]) s)) "
                                  "WHERE id = $1",
                                  {IdText(run_id), ArrayLiteral(steps)})
                            .status());
    return RebuildLatestMetrics(conn, run_id);
  });
}

absl::Status PgStore::ArchiveEarlierMetrics(int64_t run_id, int attempt, int64_t resumed_from) {
  return Run(Mode::kReadWrite, [&](PgConnection& conn) -> absl::Status {
    GWO_RETURN_IF_ERROR(LockCurrentAttempt(conn, run_id, attempt).status());
    // From scratch (0), even the step-0 points (parameter counts) are the new attempt's.
    GWO_ASSIGN_OR_RETURN(PgResult r, conn.Exec("UPDATE metrics SET archived = true WHERE run_id = $1 "
                                               "AND attempt < $2 AND NOT archived AND (step > $3 OR $3 = 0)",
                                               {IdText(run_id), absl::StrCat(attempt), IdText(resumed_from)}));
    if (r.affected() == 0) return absl::OkStatus();
    GWO_RETURN_IF_ERROR(
        conn.Exec("UPDATE runs SET step = coalesce((SELECT max(step) FROM metrics WHERE run_id = $1 "
                  "AND NOT archived), 0) WHERE id = $1",
                  {IdText(run_id)})
            .status());
    return RebuildLatestMetrics(conn, run_id);
  });
}

}  // namespace gwo::server
