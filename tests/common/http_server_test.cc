// The metrics HTTP server on loopback, fetched with curl; its /metrics output
// checked with promtool (Debian's prometheus package).
#include "common/metrics/http_server.h"

#include <atomic>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/metrics/registry.h"
#include "common/subprocess.h"
#include "gtest/gtest.h"

namespace gwo::metrics {
namespace {

// Runs curl; returns "<status code>\n<body>" (curl's -w prints the code last).
std::string Fetch(int port, const std::string& path, const std::string& method = "GET") {
  absl::StatusOr<std::string> out =
      RunCommand({.argv = {"curl", "-s", "-X", method, "-w", "\n%{http_code} %{content_type}",
                           absl::StrCat("http://127.0.0.1:", port, path)}},
                 absl::Seconds(10));
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? *out : "";
}

TEST(HttpServer, ServesHandlersOnAPickedPort) {
  Registry r;
  r.AddCounter("gwo_requests_total", "Requests.", {"path"})->With({"/a\"b"}).Inc(3);
  std::atomic<bool> ready{false};
  auto server = HttpServer::Start(
      "127.0.0.1:0", {{"/metrics", [&] { return HttpResponse{200, Registry::kContentType, r.Expose()}; }},
                      {"/healthz", [] { return HealthzResponse(); }},
                      {"/readyz", [&] {
                         return ReadyzResponse([&] {
                           return ready ? absl::OkStatus() : absl::UnavailableError("database unreachable");
                         });
                       }}});
  ASSERT_TRUE(server.ok()) << server.status();
  int port = (*server)->port();
  ASSERT_GT(port, 0);

  EXPECT_EQ(Fetch(port, "/metrics"),
            "# HELP gwo_requests_total Requests.\n# TYPE gwo_requests_total counter\n"
            "gwo_requests_total{path=\"/a\\\"b\"} 3\n\n200 text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(Fetch(port, "/healthz"), "ok\n\n200 text/plain; charset=utf-8");
  EXPECT_EQ(Fetch(port, "/readyz"), "not ready: database unreachable\n\n503 text/plain; charset=utf-8");
  ready = true;
  EXPECT_EQ(Fetch(port, "/readyz"), "ready\n\n200 text/plain; charset=utf-8");
  EXPECT_EQ(Fetch(port, "/nothing"), "no such path: /nothing\n\n404 text/plain; charset=utf-8");
  EXPECT_EQ(Fetch(port, "/metrics", "POST"), "only GET\n\n405 text/plain; charset=utf-8");
}

TEST(HttpServer, RefusesAnAddressInUseAndMalformedAddresses) {
  auto first = HttpServer::Start("127.0.0.1:0", {});
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = HttpServer::Start(absl::StrCat("127.0.0.1:", (*first)->port()), {});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable) << second.status();
  EXPECT_NE(std::string(second.status().message()).find("cannot serve HTTP on 127.0.0.1:"), std::string::npos);

  auto bad = HttpServer::Start("localhost", {});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(std::string(bad.status().message()),
            "HTTP listen address \"localhost\": expected HOST:PORT, e.g. 127.0.0.1:9180");
  EXPECT_FALSE(HttpServer::Start("127.0.0.1:70000", {}).ok());
}

TEST(HttpServer, StopsListeningWhenDestroyed) {
  auto server = HttpServer::Start("127.0.0.1:0", {{"/healthz", [] { return HealthzResponse(); }}});
  ASSERT_TRUE(server.ok()) << server.status();
  int port = (*server)->port();
  server->reset();
  absl::StatusOr<std::string> out =
      RunCommand({.argv = {"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                           absl::StrCat("http://127.0.0.1:", port, "/healthz")}},
                 absl::Seconds(10));
  EXPECT_FALSE(out.ok() && *out == "200");
}

// promtool (from Debian's prometheus) accepts what the registry writes,
// escapes, histograms and all, and rejects a broken exposition (so the check
// can fail).
TEST(Promtool, AcceptsTheRegistryOutput) {
  Registry r;
  r.AddCounter("gwo_events_total", "Events with \"quotes\" and a \\ backslash.", {"kind"})
      ->With({"we\"ird\\va\nlue"})
      .Inc();
  r.AddHistogram("gwo_latency_seconds", "Latency.", {"method", "code"}, LatencyBuckets())
      ->With({"/gwo.v1.X/Y", "OK"})
      .Observe(0.003);
  r.AddGauge("gwo_memory_bytes", "Memory.", {"gpu"})->With({"0"}).Set(1.5e9);
  std::string dir = ::testing::TempDir();
  std::string good = dir + "/good.prom";
  std::ofstream(good) << r.Expose();
  auto ok = RunCommand({.argv = {"sh", "-c", "promtool check metrics < " + good}}, absl::Seconds(30));
  EXPECT_TRUE(ok.ok()) << ok.status();

  std::string bad = dir + "/bad.prom";
  std::ofstream(bad) << "# TYPE gwo_x_total counter\ngwo_x_total{a=\"unterminated} 1\n";
  auto refused = RunCommand({.argv = {"sh", "-c", "promtool check metrics < " + bad}}, absl::Seconds(30));
  EXPECT_FALSE(refused.ok());
}

}  // namespace
}  // namespace gwo::metrics
