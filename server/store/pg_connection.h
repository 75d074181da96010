// A thin layer over libpq: an owned result, one connection that runs parameterised
// statements (text parameters, text results), and a fixed pool of connections.
// Errors: UNAVAILABLE when the connection is lost or the server cannot be reached
// (the statement may be retried on a fresh connection), INTERNAL for any other
// failed statement, ABORTED for a serialization failure or deadlock (run the
// transaction again); the message carries the SQLSTATE ("[23505] duplicate key...").
#ifndef GWO_SERVER_STORE_PG_CONNECTION_H_
#define GWO_SERVER_STORE_PG_CONNECTION_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

struct pg_conn;
struct pg_result;

namespace gwo::server {

// One statement parameter in text form; nullopt is SQL NULL.
using PgParam = std::optional<std::string>;

// The rows of a successful statement. Columns are looked up by name; a value that
// does not parse as the asked type reads as 0 (the queries cast their columns).
class PgResult {
 public:
  explicit PgResult(pg_result* res) : res_(res) {}
  PgResult(PgResult&& other) noexcept : res_(other.res_) { other.res_ = nullptr; }
  PgResult& operator=(PgResult&& other) noexcept;
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;
  ~PgResult();

  int rows() const;
  // Rows changed by an INSERT/UPDATE/DELETE without RETURNING.
  int64_t affected() const;
  bool IsNull(int row, const char* column) const;
  std::string Text(int row, const char* column) const;
  int64_t Int(int row, const char* column) const;
  double Double(int row, const char* column) const;
  bool Bool(int row, const char* column) const;
  // A column holding microseconds since the Unix epoch (see UsecOf below).
  absl::Time Time(int row, const char* column) const;
  std::optional<absl::Time> OptionalTime(int row, const char* column) const;

 private:
  int Column(const char* column) const;
  pg_result* res_;
};

// SQL expression reading a timestamptz column as int8 microseconds since the epoch,
// for PgResult::Time: UsecOf("r.created_at") + " AS created_us".
std::string UsecOf(const std::string& column);
// Array literals for `$n::int8[]`, `$n::text[]`, ... parameters.
std::string ArrayLiteral(const std::vector<int64_t>& values);
std::string ArrayLiteral(const std::vector<double>& values);
std::string ArrayLiteral(const std::vector<std::string>& values);
// Text form of a double that reads back to the same value (NaN and infinities too).
std::string DoubleText(double v);
// `s` with invalid UTF-8 bytes and NULs replaced by '?', so the server accepts it.
std::string SanitizeText(const std::string& s);

class PgConnection {
 public:
  // Connects to `url` (libpq conninfo or postgres:// URL). UNAVAILABLE on failure.
  static absl::StatusOr<std::unique_ptr<PgConnection>> Connect(const std::string& url);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Runs one statement with parameters $1.. (text).
  absl::StatusOr<PgResult> Exec(const std::string& sql, const std::vector<PgParam>& params = {});
  // Runs a script of several statements without parameters (migrations).
  absl::Status ExecScript(const std::string& sql);
  // True when libpq knows the connection is broken.
  bool bad() const;
  // Reconnects with the original parameters. UNAVAILABLE when that fails.
  absl::Status Reset();

 private:
  explicit PgConnection(pg_conn* conn) : conn_(conn) {}
  // Takes ownership of `res`; the error of a failed statement.
  absl::StatusOr<PgResult> Checked(pg_result* res, const std::string& sql) const;
  absl::Status ErrorOf(pg_result* res, const std::string& sql) const;
  pg_conn* conn_;
};

// A fixed set of connections. Acquire() blocks until one is free; a connection
// known to be broken is reset before it is handed out.
class PgPool {
 public:
  class Lease {
   public:
    Lease(PgPool* pool, std::unique_ptr<PgConnection> conn) : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&&) = default;
    ~Lease();
    PgConnection* operator->() const { return conn_.get(); }
    PgConnection& operator*() const { return *conn_; }

   private:
    PgPool* pool_;
    std::unique_ptr<PgConnection> conn_;
  };

  // Opens `size` connections; UNAVAILABLE if any cannot be opened.
  static absl::StatusOr<std::unique_ptr<PgPool>> Open(const std::string& url, int size);
  // UNAVAILABLE when the leased connection was broken and cannot be re-established,
  // or when no connection became free within 10 s.
  absl::StatusOr<Lease> Acquire();

 private:
  PgPool() = default;
  void Release(std::unique_ptr<PgConnection> conn);
  absl::Mutex mu_;
  std::vector<std::unique_ptr<PgConnection>> idle_ ABSL_GUARDED_BY(mu_);
};

}  // namespace gwo::server

#endif  // GWO_SERVER_STORE_PG_CONNECTION_H_
