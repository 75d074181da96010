#include "common/metrics/http_server.h"

#include <civetweb.h>

#include <cstring>
#include <mutex>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/metrics/registry.h"

namespace gwo::metrics {
namespace {

// "HOST:PORT" or "[V6]:PORT" -> OK when the port is a number in [0, 65535] and
// the host is not empty.
absl::Status CheckAddress(const std::string& address) {
  size_t colon = address.rfind(':');
  int port = -1;
  if (colon == std::string::npos || colon == 0 || !absl::SimpleAtoi(address.substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("HTTP listen address \"", address, "\": expected HOST:PORT, e.g. 127.0.0.1:9180"));
  }
  return absl::OkStatus();
}

}  // namespace

int HttpServer::OnRequest(mg_connection* conn) {
  const mg_request_info* info = mg_get_request_info(conn);
  auto* self = static_cast<HttpServer*>(mg_get_user_data(mg_get_context(conn)));
  HttpResponse resp;
  const char* path = info->local_uri != nullptr ? info->local_uri : "";
  auto it = self->handlers_.find(path);
  if (it == self->handlers_.end()) {
    resp = {404, "text/plain; charset=utf-8", absl::StrCat("no such path: ", path, "\n")};
  } else if (std::strcmp(info->request_method, "GET") != 0 && std::strcmp(info->request_method, "HEAD") != 0) {
    resp = {405, "text/plain; charset=utf-8", "only GET\n"};
  } else {
    resp = it->second();
  }
  const bool head = std::strcmp(info->request_method, "HEAD") == 0;
  std::string header = absl::StrCat("HTTP/1.1 ", resp.status, " ", mg_get_response_code_text(conn, resp.status),
                                    "\r\nContent-Type: ", resp.content_type,
                                    "\r\nContent-Length: ", resp.body.size(),
                                    "\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n");
  mg_write(conn, header.data(), header.size());
  if (!head) mg_write(conn, resp.body.data(), resp.body.size());
  return resp.status;  // non-zero: handled here
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const std::string& address,
                                                             std::map<std::string, HttpHandler> handlers) {
  if (absl::Status s = CheckAddress(address); !s.ok()) return s;
  static std::once_flag library_init;
  std::call_once(library_init, [] { mg_init_library(0); });

  std::unique_ptr<HttpServer> server(new HttpServer(std::move(handlers)));
  mg_callbacks callbacks;
  std::memset(&callbacks, 0, sizeof(callbacks));
  callbacks.begin_request = &HttpServer::OnRequest;
  // Quiet: errors come back through mg_start2's error data.
  callbacks.log_message = [](const mg_connection*, const char*) { return 1; };
  const char* options[] = {"listening_ports", address.c_str(), "num_threads", "4", "request_timeout_ms", "10000",
                           nullptr};
  mg_init_data init;
  init.callbacks = &callbacks;
  init.user_data = server.get();
  init.configuration_options = options;
  char error_text[256] = {0};
  unsigned error_code = 0;
  mg_error_data error;
  error.code = &error_code;
  error.text = error_text;
  error.text_buffer_size = sizeof(error_text);
  server->ctx_ = mg_start2(&init, &error);
  if (server->ctx_ == nullptr) {
    return absl::UnavailableError(absl::StrCat("cannot serve HTTP on ", address, ": ",
                                               error_text[0] != '\0' ? error_text : "unknown error"));
  }
  mg_server_port ports[4];
  int n = mg_get_server_ports(server->ctx_, 4, ports);
  if (n < 1 || ports[0].port <= 0) {
    return absl::InternalError(absl::StrCat("HTTP server on ", address, " reports no listening port"));
  }
  server->port_ = ports[0].port;
  return server;
}

HttpServer::~HttpServer() {
  if (ctx_ != nullptr) mg_stop(ctx_);
}

HttpResponse HealthzResponse() { return {200, "text/plain; charset=utf-8", "ok\n"}; }

HttpResponse ReadyzResponse(const std::function<absl::Status()>& ready) {
  absl::Status s = ready();
  if (s.ok()) return {200, "text/plain; charset=utf-8", "ready\n"};
  return {503, "text/plain; charset=utf-8", absl::StrCat("not ready: ", s.message(), "\n")};
}

absl::StatusOr<std::unique_ptr<HttpServer>> ServeTelemetry(const std::string& address, const Registry* registry,
                                                          std::function<absl::Status()> ready) {
  return HttpServer::Start(
      address, {{"/metrics", [registry] { return HttpResponse{200, Registry::kContentType, registry->Expose()}; }},
                {"/healthz", [] { return HealthzResponse(); }},
                {"/readyz", [ready = std::move(ready)] { return ReadyzResponse(ready); }}});
}

}  // namespace gwo::metrics
