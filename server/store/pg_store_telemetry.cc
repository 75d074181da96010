// PgStore: the reads behind the coordinator's metrics.
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/pg_store.h"

namespace gwo::server {

absl::StatusOr<std::map<RunState, int64_t>> PgStore::CountRunsByState() {
  std::map<RunState, int64_t> out;
  GWO_RETURN_IF_ERROR(Run(Mode::kNoTransaction, [&](PgConnection& conn) -> absl::Status {
    out.clear();
    for (RunState s : {RunState::kQueued, RunState::kRunning, RunState::kSucceeded, RunState::kFailed,
                       RunState::kCancelled}) {
      out[s] = 0;
    }
    GWO_ASSIGN_OR_RETURN(PgResult r, conn.Exec("SELECT state, count(*) AS n FROM runs GROUP BY state"));
    for (int i = 0; i < r.rows(); ++i) {
      std::optional<RunState> s = ParseRunState(r.Text(i, "state"));
      if (s.has_value()) out[*s] = r.Int(i, "n");
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<absl::Duration> PgStore::QueueWait(int64_t run_id, int attempt) {
  double seconds = 0;
  GWO_RETURN_IF_ERROR(Run(Mode::kNoTransaction, [&](PgConnection& conn) -> absl::Status {
    GWO_ASSIGN_OR_RETURN(
        PgResult r,
        conn.Exec("SELECT extract(epoch FROM a.started_at - coalesce("
                  "  (SELECT p.finished_at FROM attempts p WHERE p.run_id = a.run_id AND p.attempt = a.attempt - 1),"
                  "  r.created_at))::float8 AS wait "
                  "FROM attempts a JOIN runs r ON r.id = a.run_id WHERE a.run_id = $1 AND a.attempt = $2",
                  {absl::StrCat(run_id), absl::StrCat(attempt)}));
    if (r.rows() == 0) return absl::NotFoundError(absl::StrCat("no attempt ", attempt, " of run ", run_id));
    seconds = r.Double(0, "wait");
    return absl::OkStatus();
  }));
  return absl::Seconds(seconds);
}

}  // namespace gwo::server
