// The numbered SQL migrations of the store (server/store/migrations/NNNN_name.sql,
// compiled into the binary) and how they are applied.
#ifndef GWO_SERVER_STORE_MIGRATIONS_H_
#define GWO_SERVER_STORE_MIGRATIONS_H_

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/store/pg_connection.h"

namespace gwo::server {

struct Migration {
  int version;       // NNNN of the file name
  const char* name;  // file name without ".sql"
  const char* sql;   // the script, run in one transaction
};

// Every migration compiled in, ascending by version (generated at build time).
const std::vector<Migration>& AllMigrations();

// Highest version recorded in schema_migrations; 0 when the table does not exist.
absl::StatusOr<int> AppliedSchemaVersion(PgConnection& conn);

// Applies the migrations not yet recorded, each in its own transaction, while
// holding a session advisory lock so that concurrent callers apply each once.
// FAILED_PRECONDITION when the database has a version this binary does not know.
absl::Status ApplyMigrations(PgConnection& conn);

}  // namespace gwo::server

#endif  // GWO_SERVER_STORE_MIGRATIONS_H_
