#include "server/store/pg_connection.h"

#include <libpq-fe.h>

#include <charconv>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "common/utf8.h"
#include "common/log.h"

namespace gwo::server {
namespace {

// Waits at most this long for a TCP connection unless the URL says otherwise.
constexpr char kStatementTimeoutOption[] = "-c statement_timeout=60s";
constexpr char kConnectTimeoutSeconds[] = "10";
// Waits at most this long for a free pooled connection.
constexpr absl::Duration kAcquireTimeout = absl::Seconds(10);

// SQLSTATEs after which the connection (or the server) is gone: class 08
// (connection exception), and shutdown / startup in progress.
bool IsConnectionLoss(const char* state) {
  if (state == nullptr) return false;
  return absl::StartsWith(state, "08") || absl::string_view(state) == "57P01" ||
         absl::string_view(state) == "57P02" || absl::string_view(state) == "57P03";
}

// Serialization failure and deadlock: the transaction may simply be run again.
bool IsConflict(const char* state) {
  return state != nullptr && (absl::string_view(state) == "40001" || absl::string_view(state) == "40P01");
}

// Server notices (e.g. DROP ... CASCADE listing what it dropped) are dropped;
// warnings go to the log.
void ForwardNotice(void*, const PGresult* res) {
  const char* severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
  if (severity == nullptr || absl::string_view(severity) != "WARNING") return;
  LogWarning(absl::StrCat("PostgreSQL: ", absl::StripTrailingAsciiWhitespace(PQresultErrorMessage(res))));
}

std::string Shorten(const std::string& sql) {
  std::string one_line = sql.substr(0, 80);
  for (char& c : one_line) {
    if (c == '\n') c = ' ';
  }
  return sql.size() > 80 ? absl::StrCat(one_line, "...") : one_line;
}

}  // namespace

// --- PgResult ---

PgResult& PgResult::operator=(PgResult&& other) noexcept {
  if (this != &other) {
    if (res_ != nullptr) PQclear(res_);
    res_ = other.res_;
    other.res_ = nullptr;
  }
  return *this;
}

PgResult::~PgResult() {
  if (res_ != nullptr) PQclear(res_);
}

int PgResult::rows() const { return res_ == nullptr ? 0 : PQntuples(res_); }

int64_t PgResult::affected() const {
  int64_t n = 0;
  if (res_ != nullptr && !absl::SimpleAtoi(PQcmdTuples(res_), &n)) n = 0;
  return n;
}

int PgResult::Column(const char* column) const { return PQfnumber(res_, column); }

bool PgResult::IsNull(int row, const char* column) const {
  const int c = Column(column);
  return c < 0 || PQgetisnull(res_, row, c) != 0;
}

std::string PgResult::Text(int row, const char* column) const {
  const int c = Column(column);
  if (c < 0) return "";
  return std::string(PQgetvalue(res_, row, c), PQgetlength(res_, row, c));
}

int64_t PgResult::Int(int row, const char* column) const {
  int64_t v = 0;
  if (!absl::SimpleAtoi(Text(row, column), &v)) v = 0;
  return v;
}

double PgResult::Double(int row, const char* column) const {
  double v = 0;
  if (!absl::SimpleAtod(Text(row, column), &v)) v = 0;
  return v;
}

bool PgResult::Bool(int row, const char* column) const { return Text(row, column) == "t"; }

absl::Time PgResult::Time(int row, const char* column) const { return absl::FromUnixMicros(Int(row, column)); }

std::optional<absl::Time> PgResult::OptionalTime(int row, const char* column) const {
  if (IsNull(row, column)) return std::nullopt;
  return Time(row, column);
}

// --- Value formatting ---

std::string UsecOf(const std::string& column) {
  // extract() returns numeric, so the multiplication is exact.
  return absl::StrCat("(extract(epoch from ", column, ") * 1000000)::int8");
}

std::string DoubleText(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);  // shortest round-trip form
  return std::string(buf, end);
}

std::string ArrayLiteral(const std::vector<int64_t>& values) {
  return absl::StrCat("{", absl::StrJoin(values, ","), "}");
}

std::string ArrayLiteral(const std::vector<double>& values) {
  return absl::StrCat("{", absl::StrJoin(values, ",", [](std::string* out, double v) {
                        absl::StrAppend(out, DoubleText(v));
                      }),
                      "}");
}

std::string ArrayLiteral(const std::vector<std::string>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char c : values[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

std::string SanitizeText(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const size_t len = s[i] == '\0' ? 0 : Utf8SequenceLength(s, i);
    if (len > 0) {
      out.append(s, i, len);
      i += len;
    } else {
      out += '?';
      ++i;
    }
  }
  return out;
}

// --- PgConnection ---

absl::StatusOr<std::unique_ptr<PgConnection>> PgConnection::Connect(const std::string& url) {
  // Values in `url` override the defaults listed before it (expand_dbname).
  // A server-side deadline on every statement: no call holds a connection (or a lock)
  // for longer, whatever its client's deadline (migrations lift it for themselves).
  const char* keys[] = {"connect_timeout", "application_name", "options", "dbname", nullptr};
  const char* values[] = {kConnectTimeoutSeconds, "gwo-coordinator", kStatementTimeoutOption, url.c_str(), nullptr};
  PGconn* conn = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (conn == nullptr) return absl::UnavailableError("PostgreSQL: out of memory while connecting");
  PQsetNoticeReceiver(conn, &ForwardNotice, nullptr);
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message(absl::StripTrailingAsciiWhitespace(PQerrorMessage(conn)));
    PQfinish(conn);
    return absl::UnavailableError(absl::StrCat("cannot connect to PostgreSQL: ", message));
  }
  return std::unique_ptr<PgConnection>(new PgConnection(conn));
}

PgConnection::~PgConnection() { PQfinish(conn_); }

bool PgConnection::bad() const { return PQstatus(conn_) != CONNECTION_OK; }

absl::Status PgConnection::Reset() {
  PQreset(conn_);
  if (PQstatus(conn_) != CONNECTION_OK) {
    return absl::UnavailableError(absl::StrCat("cannot reconnect to PostgreSQL: ",
                                               absl::StripTrailingAsciiWhitespace(PQerrorMessage(conn_))));
  }
  return absl::OkStatus();
}

absl::Status PgConnection::ErrorOf(PGresult* res, const std::string& sql) const {
  const char* state = res == nullptr ? nullptr : PQresultErrorField(res, PG_DIAG_SQLSTATE);
  std::string message(absl::StripTrailingAsciiWhitespace(res == nullptr ? PQerrorMessage(conn_)
                                                                        : PQresultErrorMessage(res)));
  message = absl::StrCat("PostgreSQL: [", state == nullptr ? "-----" : state, "] ", message, " (in: ",
                         Shorten(sql), ")");
  if (bad() || IsConnectionLoss(state)) return absl::UnavailableError(message);
  if (IsConflict(state)) return absl::AbortedError(message);
  return absl::InternalError(message);
}

absl::StatusOr<PgResult> PgConnection::Checked(PGresult* res, const std::string& sql) const {
  PgResult owned(res);
  const ExecStatusType status = res == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(res);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) return ErrorOf(res, sql);
  return owned;
}

absl::StatusOr<PgResult> PgConnection::Exec(const std::string& sql, const std::vector<PgParam>& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const PgParam& p : params) values.push_back(p.has_value() ? p->c_str() : nullptr);
  return Checked(PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), /*paramTypes=*/nullptr,
                              values.data(), /*paramLengths=*/nullptr, /*paramFormats=*/nullptr,
                              /*resultFormat=*/0),
                 sql);
}

absl::Status PgConnection::ExecScript(const std::string& sql) {
  return Checked(PQexec(conn_, sql.c_str()), sql).status();
}

// --- PgPool ---

PgPool::Lease::~Lease() {
  if (conn_ != nullptr) pool_->Release(std::move(conn_));
}

absl::StatusOr<std::unique_ptr<PgPool>> PgPool::Open(const std::string& url, int size) {
  // Connected in parallel: each connection costs the server a process start.
  std::vector<absl::StatusOr<std::unique_ptr<PgConnection>>> conns(std::max(size, 1));
  std::vector<std::thread> threads;
  for (auto& conn : conns) threads.emplace_back([&conn, &url] { conn = PgConnection::Connect(url); });
  for (std::thread& t : threads) t.join();
  std::unique_ptr<PgPool> pool(new PgPool());
  absl::MutexLock lock(&pool->mu_);
  for (auto& conn : conns) {
    if (!conn.ok()) return conn.status();
    pool->idle_.push_back(std::move(conn).value());
  }
  return pool;
}

absl::StatusOr<PgPool::Lease> PgPool::Acquire() {
  std::unique_ptr<PgConnection> conn;
  {
    absl::MutexLock lock(&mu_);
    // Bounded, so that a caller never waits past its deadline behind statements
    // stuck on an unresponsive server.
    if (!mu_.AwaitWithTimeout(absl::Condition(
                                  +[](std::vector<std::unique_ptr<PgConnection>>* idle) { return !idle->empty(); },
                                  &idle_),
                              kAcquireTimeout)) {
      return absl::UnavailableError("PostgreSQL: every pooled connection stayed busy; is the server responding?");
    }
    conn = std::move(idle_.back());
    idle_.pop_back();
  }
  Lease lease(this, std::move(conn));
  if (lease->bad()) {
    absl::Status reset = lease->Reset();
    if (!reset.ok()) return reset;  // the lease hands the connection back
  }
  return lease;
}

void PgPool::Release(std::unique_ptr<PgConnection> conn) {
  absl::MutexLock lock(&mu_);
  idle_.push_back(std::move(conn));
}

}  // namespace gwo::server
