// PgStore: reads for reports (final values), downsampled series and live streams.
#include <algorithm>
#include <limits>
#include <map>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/pg_store.h"

namespace gwo::server {
namespace {

std::string IdText(int64_t id) { return absl::StrCat(id); }

absl::StatusOr<RunState> ReadRunState(PgConnection& conn, int64_t run_id) {
  GWO_ASSIGN_OR_RETURN(PgResult r, conn.Exec("SELECT state FROM runs WHERE id = $1", {IdText(run_id)}));
  if (r.rows() == 0) return absl::NotFoundError(absl::StrCat("no run with id ", run_id));
  std::optional<RunState> state = ParseRunState(r.Text(0, "state"));
  if (!state.has_value()) return absl::InternalError(absl::StrCat("run ", run_id, " has state ", r.Text(0, "state")));
  return *state;
}

// CTEs "firsts" and "cut(run_id, attempt, cutoff)" for the attempts matching
// `attempt_filter` (on attempts a): an attempt's points at steps >= cutoff are
// superseded, cutoff being the lowest first step of a later attempt of the run
// (the step it resumed from: its first point under any name).
std::string CutoffCtes(const std::string& attempt_filter) {
  return absl::StrCat(
      "firsts AS MATERIALIZED ("
      "  SELECT a.run_id, a.attempt,"
      "    (SELECT min(step) FROM metrics m WHERE m.run_id = a.run_id AND m.attempt = a.attempt) AS first_step"
      "  FROM attempts a WHERE ", attempt_filter, "),"
      " cut AS MATERIALIZED ("
      "  SELECT run_id, attempt, coalesce(min(first_step) OVER (PARTITION BY run_id ORDER BY attempt DESC"
      "    ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 9223372036854775807) AS cutoff FROM firsts)");
}

}  // namespace

absl::StatusOr<std::map<int64_t, std::map<std::string, double>>> PgStore::FinalMetrics(int64_t experiment_id) {
  std::map<int64_t, std::map<std::string, double>> out;
  GWO_RETURN_IF_ERROR(Run(Mode::kReadOnly, [&](PgConnection& conn) -> absl::Status {
    GWO_RETURN_IF_ERROR(RequireRow(conn, "experiments", "experiment", experiment_id));
    // Per (run, name), walk the series back from its highest step to the first
    // point not superseded: one short index scan each.
    GWO_ASSIGN_OR_RETURN(
        PgResult r,
        conn.Exec(absl::StrCat("WITH ", CutoffCtes("a.run_id IN (SELECT id FROM runs WHERE experiment_id = $1)"),
                               " SELECT l.run_id, l.name, f.value FROM latest_metrics l"
                               " JOIN runs r ON r.id = l.run_id"
                               " CROSS JOIN LATERAL ("
                               "  SELECT m.value FROM metrics m"
                               "  JOIN cut c ON c.run_id = m.run_id AND c.attempt = m.attempt"
                               "  WHERE m.run_id = l.run_id AND m.name = l.name AND m.step < c.cutoff"
                               "  ORDER BY m.step DESC, m.attempt DESC LIMIT 1) f"
                               " WHERE r.experiment_id = $1"),
                  {IdText(experiment_id)}));
    out.clear();
    for (int i = 0; i < r.rows(); ++i) out[r.Int(i, "run_id")][r.Text(i, "name")] = r.Double(i, "value");
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<DownsampledSeriesRecord>> PgStore::QueryMetricBuckets(
    int64_t run_id, const std::vector<std::string>& names, int max_points, int64_t step_min, int64_t step_max) {
  if (max_points < 1) return absl::InvalidArgumentError(absl::StrCat("max_points must be >= 1, got ", max_points));
  const PgParam names_param = names.empty() ? std::nullopt : PgParam(ArrayLiteral(names));
  std::vector<DownsampledSeriesRecord> out;
  GWO_RETURN_IF_ERROR(Run(Mode::kReadOnly, [&](PgConnection& conn) -> absl::Status {
    out.clear();
    GWO_RETURN_IF_ERROR(RequireRow(conn, "runs", "run", run_id));
    // Cutoff per attempt number, as an int8[] indexed by attempt (1-based).
    GWO_ASSIGN_OR_RETURN(PgResult cuts, conn.Exec(absl::StrCat("WITH ", CutoffCtes("a.run_id = $1"),
                                                               " SELECT attempt, cutoff FROM cut ORDER BY attempt"),
                                                  {IdText(run_id)}));
    std::vector<int64_t> cutoff;
    for (int i = 0; i < cuts.rows(); ++i) {
      const int64_t attempt = cuts.Int(i, "attempt");
      if (attempt < 1 || attempt > 100000) continue;
      cutoff.resize(std::max<size_t>(cutoff.size(), attempt), std::numeric_limits<int64_t>::max());
      cutoff[attempt - 1] = cuts.Int(i, "cutoff");
    }
    // Names and their step range, from the latest_metrics rows and two index probes each.
    GWO_ASSIGN_OR_RETURN(
        PgResult names_r,
        conn.Exec("SELECT l.name,"
                  " (SELECT min(step) FROM metrics m WHERE m.run_id = $1 AND m.name = l.name) AS lo,"
                  " (SELECT max(step) FROM metrics m WHERE m.run_id = $1 AND m.name = l.name) AS hi "
                  "FROM latest_metrics l WHERE l.run_id = $1 AND ($2::text[] IS NULL OR l.name = ANY($2))",
                  {IdText(run_id), names_param}));
    // Sorted bytewise whatever the database collation.
    std::map<std::string, std::pair<int64_t, int64_t>> ranges;
    for (int i = 0; i < names_r.rows(); ++i) {
      if (names_r.IsNull(i, "lo")) continue;
      const int64_t lo = std::max(names_r.Int(i, "lo"), step_min);
      const int64_t hi = step_max < 0 ? names_r.Int(i, "hi") : std::min(names_r.Int(i, "hi"), step_max);
      if (lo <= hi) ranges[names_r.Text(i, "name")] = {lo, hi};
    }
    for (const auto& [name, range] : ranges) {
      // Bucket b holds steps in [lo + (b-1) w, lo + b w), w = (hi + 1 - lo) / N, so a
      // span of at most N steps keeps every point in its own bucket. One pass,
      // hash-aggregated; then the values at each bucket's first and last step by
      // two index probes per bucket (cheaper than ordered aggregates).
      const std::string clean = "step < coalesce(($6::int8[])[attempt], 9223372036854775807)";
      GWO_ASSIGN_OR_RETURN(
          PgResult r,
          conn.Exec(absl::StrCat(
                        "WITH agg AS MATERIALIZED ("
                        "  SELECT width_bucket(step::float8, $3::float8, $4::float8 + 1, $5::int) AS bucket,"
                        "  count(*) AS count, min(step) AS step_start, max(step) AS step_end,"
                        "  min(value) AS min, max(value) AS max, avg(value) AS mean"
                        "  FROM metrics WHERE run_id = $1 AND name = $2 AND step BETWEEN $3 AND $4 AND ", clean,
                        "  GROUP BY 1) "
                        "SELECT agg.*,"
                        " (SELECT value FROM metrics WHERE run_id = $1 AND name = $2 AND step = agg.step_start AND ",
                        clean, " ORDER BY attempt DESC LIMIT 1) AS first,"
                        " (SELECT value FROM metrics WHERE run_id = $1 AND name = $2 AND step = agg.step_end AND ",
                        clean, " ORDER BY attempt DESC LIMIT 1) AS last "
                        "FROM agg ORDER BY bucket"),
                    {IdText(run_id), SanitizeText(name), absl::StrCat(range.first), absl::StrCat(range.second),
                     absl::StrCat(max_points), ArrayLiteral(cutoff)}));
      if (r.rows() == 0) continue;
      DownsampledSeriesRecord s;
      s.name = name;
      for (int i = 0; i < r.rows(); ++i) {
        MetricBucketRecord b;
        b.step_start = r.Int(i, "step_start");
        b.step_end = r.Int(i, "step_end");
        b.count = r.Int(i, "count");
        b.first = r.Double(i, "first");
        b.last = r.Double(i, "last");
        b.min = r.Double(i, "min");
        b.max = r.Double(i, "max");
        b.mean = r.Double(i, "mean");
        s.total_points += b.count;
        s.buckets.push_back(b);
      }
      out.push_back(std::move(s));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<MetricPage> PgStore::MetricsAfter(int64_t run_id, int64_t after_seq,
                                                 const std::vector<std::string>& names, int limit) {
  const PgParam names_param = names.empty() ? std::nullopt : PgParam(ArrayLiteral(names));
  MetricPage out;
  GWO_RETURN_IF_ERROR(Run(Mode::kReadOnly, [&](PgConnection& conn) -> absl::Status {
    out = MetricPage();
    GWO_ASSIGN_OR_RETURN(out.state, ReadRunState(conn, run_id));
    GWO_ASSIGN_OR_RETURN(PgResult r, conn.Exec("SELECT seq, attempt, step, name, value FROM metrics "
                                               "WHERE run_id = $1 AND seq > $2 AND ($3::text[] IS NULL OR name = ANY($3)) "
                                               "ORDER BY seq LIMIT $4",
                                               {IdText(run_id), absl::StrCat(after_seq), names_param,
                                                absl::StrCat(std::max(limit, 1))}));
    for (int i = 0; i < r.rows(); ++i) {
      out.points.push_back({r.Int(i, "seq"), static_cast<int>(r.Int(i, "attempt")), r.Int(i, "step"),
                            r.Text(i, "name"), r.Double(i, "value")});
    }
    GWO_ASSIGN_OR_RETURN(PgResult head, conn.Exec("SELECT coalesce(max(seq), 0) AS head FROM metrics WHERE run_id = $1",
                                                  {IdText(run_id)}));
    out.head_seq = head.Int(0, "head");
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<LogPage> PgStore::LogsAfter(int64_t run_id, int64_t after_id, int limit) {
  LogPage out;
  GWO_RETURN_IF_ERROR(Run(Mode::kReadOnly, [&](PgConnection& conn) -> absl::Status {
    out = LogPage();
    GWO_ASSIGN_OR_RETURN(out.state, ReadRunState(conn, run_id));
    GWO_ASSIGN_OR_RETURN(PgResult r, conn.Exec("SELECT id, attempt, line FROM run_logs "
                                               "WHERE run_id = $1 AND id > $2 ORDER BY id LIMIT $3",
                                               {IdText(run_id), absl::StrCat(after_id),
                                                absl::StrCat(std::max(limit, 1))}));
    for (int i = 0; i < r.rows(); ++i) {
      out.lines.push_back({r.Int(i, "id"), static_cast<int>(r.Int(i, "attempt")), r.Text(i, "line")});
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<int64_t> PgStore::LogIdBeforeTail(int64_t run_id, int n) {
  int64_t out = 0;
  GWO_RETURN_IF_ERROR(Run(Mode::kReadOnly, [&](PgConnection& conn) -> absl::Status {
    GWO_RETURN_IF_ERROR(RequireRow(conn, "runs", "run", run_id));
    GWO_ASSIGN_OR_RETURN(PgResult r, conn.Exec("SELECT id FROM run_logs WHERE run_id = $1 "
                                               "ORDER BY id DESC OFFSET $2 LIMIT 1",
                                               {IdText(run_id), absl::StrCat(std::max(n, 0))}));
    out = r.rows() == 0 ? 0 : r.Int(0, "id");
    return absl::OkStatus();
  }));
  return out;
}

}  // namespace gwo::server
