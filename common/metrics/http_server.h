// A small HTTP server (civetweb) for /metrics, /healthz and /readyz: GET on an
// exact path runs that path's handler; other paths get 404, other methods 405.
// Handlers run on civetweb's threads, several at once.
#ifndef GWO_COMMON_METRICS_HTTP_SERVER_H_
#define GWO_COMMON_METRICS_HTTP_SERVER_H_

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

struct mg_context;
struct mg_connection;

namespace gwo::metrics {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

using HttpHandler = std::function<HttpResponse()>;

class HttpServer {
 public:
  // Listens on `address` ("HOST:PORT" with a numeric IPv4 host, or "[IPv6]:PORT";
  // port 0 picks a free one) and serves `handlers` (path -> handler).
  // INVALID_ARGUMENT for a malformed address, UNAVAILABLE when it cannot listen
  // (address in use).
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const std::string& address,
                                                          std::map<std::string, HttpHandler> handlers);
  // Stops listening and waits for the requests in progress.
  ~HttpServer();

  // The port it listens on.
  int port() const { return port_; }

 private:
  explicit HttpServer(std::map<std::string, HttpHandler> handlers) : handlers_(std::move(handlers)) {}
  static int OnRequest(mg_connection* conn);

  const std::map<std::string, HttpHandler> handlers_;
  mg_context* ctx_ = nullptr;
  int port_ = 0;
};

// Standard handlers. /healthz: 200 "ok" while the process runs. /readyz: 200
// "ready" when `ready()` is OK, else 503 with its message.
HttpResponse HealthzResponse();
HttpResponse ReadyzResponse(const std::function<absl::Status()>& ready);

class Registry;
// Serves /metrics (`registry`, which must outlive the server), /healthz and
// /readyz (`ready`) on `address`; errors as HttpServer::Start.
absl::StatusOr<std::unique_ptr<HttpServer>> ServeTelemetry(const std::string& address, const Registry* registry,
                                                          std::function<absl::Status()> ready);

}  // namespace gwo::metrics

#endif  // GWO_COMMON_METRICS_HTTP_SERVER_H_
