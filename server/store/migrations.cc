#include "server/store/migrations.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace gwo::server {
namespace {

// pg_advisory_lock key held while migrating: "gwo_mig" in ASCII.
constexpr char kMigrationLockKey[] = "29123242827278695";

absl::Status ApplyMissing(PgConnection& conn) {
  GWO_RETURN_IF_ERROR(conn.Exec(
                              "CREATE TABLE IF NOT EXISTS schema_migrations ("
                              " version int PRIMARY KEY,"
                              " applied_at timestamptz NOT NULL DEFAULT now())")
                          .status());
  GWO_ASSIGN_OR_RETURN(PgResult applied, conn.Exec("SELECT version FROM schema_migrations"));
  std::set<int> done;
  for (int i = 0; i < applied.rows(); ++i) done.insert(static_cast<int>(applied.Int(i, "version")));
  const std::vector<Migration>& all = AllMigrations();
  const int known = all.empty() ? 0 : all.back().version;
  if (!done.empty() && *done.rbegin() > known) {
    return absl::FailedPreconditionError(
        absl::StrCat("the database schema is at version ", *done.rbegin(), ", newer than this binary knows (",
                     known, "); run a newer gwo-coordinator"));
  }
  for (const Migration& m : all) {
    if (done.count(m.version) > 0) continue;
    GWO_RETURN_IF_ERROR(conn.Exec("BEGIN").status());
    absl::Status st = conn.ExecScript(m.sql);
    if (st.ok()) {
      st = conn.Exec("INSERT INTO schema_migrations (version) VALUES ($1)", {absl::StrCat(m.version)}).status();
    }
    if (st.ok()) st = conn.Exec("COMMIT").status();
    if (!st.ok()) {
      conn.Exec("ROLLBACK").IgnoreError();
      return absl::Status(st.code(), absl::StrCat("migration ", m.name, ": ", st.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<int> AppliedSchemaVersion(PgConnection& conn) {
  GWO_ASSIGN_OR_RETURN(PgResult exists,
                       conn.Exec("SELECT to_regclass('schema_migrations') IS NOT NULL AS present"));
  if (!exists.Bool(0, "present")) return 0;
  GWO_ASSIGN_OR_RETURN(PgResult v, conn.Exec("SELECT coalesce(max(version), 0) AS v FROM schema_migrations"));
  return static_cast<int>(v.Int(0, "v"));
}

absl::Status ApplyMigrations(PgConnection& conn) {
  // A migration of a large database, or waiting for another coordinator's, may take
  // longer than the statement timeout of the other calls.
  GWO_RETURN_IF_ERROR(conn.Exec("SET statement_timeout = 0").status());
  GWO_RETURN_IF_ERROR(conn.Exec("SELECT pg_advisory_lock($1::int8)", {kMigrationLockKey}).status());
  absl::Status st = ApplyMissing(conn);
  conn.Exec("RESET statement_timeout").IgnoreError();
  // The lock is a session lock: it also goes away if the connection was lost.
  absl::Status unlock = conn.Exec("SELECT pg_advisory_unlock($1::int8)", {kMigrationLockKey}).status();
  return st.ok() ? unlock : st;
}

}  // namespace gwo::server
