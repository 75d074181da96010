// A PostgreSQL cluster owned by one process: created with initdb under a data
// directory on first use, started with pg_ctl on a free loopback port, stopped on
// destruction. Used by the coordinator when no --database-url is given, and by
// tests that need a real server. When the caller is root, the cluster runs as an
// unprivileged user (PostgreSQL refuses to run as root). The server listens on
// loopback TCP only and asks for the role's password (SCRAM-SHA-256), generated at
// initdb and kept in <data_dir>/postgres.password, mode 0600: another user of the
// host cannot connect.
#ifndef GWO_SERVER_STORE_EMBEDDED_POSTGRES_H_
#define GWO_SERVER_STORE_EMBEDDED_POSTGRES_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace gwo::server {

struct EmbeddedPostgresOptions {
  std::string data_dir;     // cluster files live in <data_dir>/postgres
  std::string bin_dir;      // initdb/pg_ctl location; empty: newest /usr/lib/postgresql/*/bin
  std::string run_as_user;  // when root; empty: "postgres" if it exists, else "nobody"
  int port = 0;             // 0: pick a free loopback port
  // false: initdb --no-sync and the server runs with fsync=off. Several times
  // faster to create; a machine crash can lose the cluster. For tests.
  bool durable = true;
};

class EmbeddedPostgres {
 public:
  // Initialises (if needed) and starts the cluster, waiting until it accepts
  // connections, and creates database "gwo". FAILED_PRECONDITION with a hint when
  // the binaries are missing or the data directory is not usable by the user.
  static absl::StatusOr<std::unique_ptr<EmbeddedPostgres>> Start(const EmbeddedPostgresOptions& options);
  // Stops the server (fast shutdown).
  ~EmbeddedPostgres();

  // libpq connection string for database "gwo", password included: do not log it.
  const std::string& url() const { return url_; }
  int port() const { return port_; }
  // Stops and starts the server (for tests of database restarts).
  absl::Status Restart();
  absl::Status Stop();

 private:
  EmbeddedPostgres() = default;
  // pg_ctl start on port_, then creates database "gwo" if missing. `trusting`: the
  // cluster of an older gwo, with trust authentication: its role gets password_ and
  // the server is restarted under gwo's pg_hba rules.
  absl::Status StartServer(bool trusting = false);
  std::string UrlFor(const std::string& database) const;
  EmbeddedPostgresOptions options_;
  std::string cluster_dir_;
  std::string bin_dir_;
  std::string url_;
  std::string password_;       // of role gwo
  std::string password_file_;  // <data_dir>/postgres.password, mode 0600
  int port_ = 0;
  bool running_ = false;
};

}  // namespace gwo::server

#endif  // GWO_SERVER_STORE_EMBEDDED_POSTGRES_H_
