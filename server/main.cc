// gwo-coordinator: the gRPC API, the scheduler and the only writer of PostgreSQL.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/client_config.h"
#include "common/flags.h"
#include "common/log.h"
#include "common/tls.h"
#include "common/metrics/http_server.h"
#include "common/signals.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "server/coordinator.h"
#include "server/path_roots.h"
#include "server/access/access_control.h"
#include "server/rpc/access_gate.h"
#include "server/rpc/access_service.h"
#include "server/rpc/experiment_service.h"
#include "server/rpc/queue_service.h"
#include "server/rpc/metric_service.h"
#include "server/rpc/report_service.h"
#include "server/rpc/generation_service.h"
#include "server/rpc/worker_service.h"
#include "server/store/embedded_postgres.h"
#include "server/store/store.h"
#include "server/telemetry/coordinator_metrics.h"
#include "server/telemetry/rpc_metrics.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7070", "gRPC listen address (host:port; port 0 picks one)");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate (chain) for TLS on --listen; with --tls_key");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA of the workers' client certificates: a worker stream then needs a certificate it signed");
ABSL_FLAG(bool, allow_insecure_listen, false,
          "allow --listen on a non-loopback address without TLS (only on a network you trust)");
ABSL_FLAG(std::string, data_dir, "",
          "state directory (embedded PostgreSQL lives in <data_dir>/postgres); default $GWO_DATA_DIR, "
          "else /var/lib/gwo as root, else ~/.local/share/gwo");
ABSL_FLAG(std::string, database_url, "",
          "PostgreSQL to use instead of the embedded one (postgres://user@host:port/db or a libpq conninfo)");
ABSL_FLAG(std::string, pg_bin_dir, "", "where initdb/pg_ctl are; default: newest /usr/lib/postgresql/*/bin");
ABSL_FLAG(int, worker_lease_s, 30, "a worker silent this many seconds is considered lost");
ABSL_FLAG(int, heartbeat_interval_s, 5, "heartbeat interval asked of workers");
ABSL_FLAG(double, requeue_backoff_s, 5,
          "a run whose attempt n was lost or crashed is requeued after min(this * 2^(n-1), "
          "--max_requeue_backoff_s) seconds");
ABSL_FLAG(double, max_requeue_backoff_s, 300, "upper bound of the requeue backoff");
ABSL_FLAG(std::string, project_weights, "",
          "fair-share weights of projects (resources.project), e.g. \"vision=2,nlp=1\"; unlisted projects weigh 1");
constexpr char kDefaultHttpListen[] = "127.0.0.1:9180";
ABSL_FLAG(std::string, http_listen, kDefaultHttpListen,
          "HTTP address of /metrics, /healthz and /readyz (host:port; port 0 picks one; empty: none). "
          "If the default address is taken the coordinator runs without it; another address must work");
ABSL_FLAG(std::vector<std::string>, path_roots, {},
          "directories the paths in a submitted spec (datasets, tokenizers, init checkpoints, teachers) must lie "
          "beneath (comma-separated; \"/\": anywhere); default: the corpora directory, /usr/lib, /usr/share");
ABSL_FLAG(bool, new_admin_token, false,
          "make a new token for the user admin (an enabled admin again) and write it to this user's gwo config: "
          "the way back in when every admin token is lost");
ABSL_FLAG(double, rate_limit, 200, "requests per second each user (or worker token) may send, sustained");
ABSL_FLAG(double, rate_burst, 400, "requests each user may send at once above --rate_limit");
ABSL_FLAG(int, max_streams_per_user, 64, "open metric, log and generation streams per user");
ABSL_FLAG(bool, shared_filesystem, false,
          "workers share one filesystem: any connected worker may serve generation from a run "
          "whose own worker is gone");

namespace {

std::string DefaultDataDir() {
  if (const char* env = std::getenv("GWO_DATA_DIR"); env != nullptr && *env != '\0') return env;
  if (geteuid() == 0) return "/var/lib/gwo";
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg != nullptr && *xdg != '\0') {
    return absl::StrCat(xdg, "/gwo");
  }
  const char* home = std::getenv("HOME");
  return absl::StrCat(home != nullptr ? home : "/tmp", "/.local/share/gwo");
}

int Fail(const std::string& message) {
  std::cerr << "gwo-coordinator: error: " << message << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("gwo-coordinator [--listen HOST:PORT] [--data-dir DIR | --database-url URL]");
  gwo::ParseFlags(argc, argv);
  gwo::SetLogComponent("coordinator");

  // Plaintext stays on loopback: a job is code that runs on the GPUs.
  const gwo::ServerTlsFiles tls{absl::GetFlag(FLAGS_tls_cert), absl::GetFlag(FLAGS_tls_key),
                                absl::GetFlag(FLAGS_tls_client_ca)};
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials = gwo::MakeServerCredentials(tls);
  if (!credentials.ok()) return Fail(std::string(credentials.status().message()));
  if (tls.cert.empty() && !gwo::IsLoopbackAddress(absl::GetFlag(FLAGS_listen)) &&
      !absl::GetFlag(FLAGS_allow_insecure_listen)) {
    return Fail(absl::StrCat("refusing to listen on ", absl::GetFlag(FLAGS_listen),
                             " without TLS: whoever reaches it could run code on the workers. Give --tls_cert and "
                             "--tls_key, or --allow_insecure_listen on a network you trust"));
  }

  // SIGINT/SIGTERM are taken synchronously by the main thread (sigwait below).
  sigset_t stop_signals = gwo::BlockStopSignals();

  std::unique_ptr<gwo::server::EmbeddedPostgres> embedded;
  std::string url = absl::GetFlag(FLAGS_database_url);
  std::string database_desc = "external database";
  if (url.empty()) {
    gwo::server::EmbeddedPostgresOptions options;
    options.data_dir = absl::GetFlag(FLAGS_data_dir).empty() ? DefaultDataDir() : absl::GetFlag(FLAGS_data_dir);
    options.bin_dir = absl::GetFlag(FLAGS_pg_bin_dir);
    gwo::LogInfo(absl::StrCat("starting embedded PostgreSQL under ", options.data_dir));
    auto started = gwo::server::EmbeddedPostgres::Start(options);
    if (!started.ok()) return Fail(absl::StrCat("embedded PostgreSQL: ", started.status().message()));
    embedded = std::move(*started);
    url = embedded->url();
    database_desc = absl::StrCat("embedded PostgreSQL in ", options.data_dir, "/postgres, port ", embedded->port());
  }

  auto store = gwo::server::Store::Open(url);
  if (!store.ok()) return Fail(absl::StrCat("database: ", store.status().message()));
  if (absl::Status s = (*store)->Migrate(); !s.ok()) return Fail(absl::StrCat("migrations: ", s.message()));

  gwo::metrics::Registry registry;
  gwo::server::CoordinatorMetrics telemetry(&registry, store->get());
  gwo::server::CoordinatorOptions options;
  options.observer = &telemetry;
  options.worker_lease = absl::Seconds(absl::GetFlag(FLAGS_worker_lease_s));
  options.heartbeat_interval = absl::Seconds(absl::GetFlag(FLAGS_heartbeat_interval_s));
  options.requeue_backoff = absl::Seconds(absl::GetFlag(FLAGS_requeue_backoff_s));
  options.max_requeue_backoff = absl::Seconds(absl::GetFlag(FLAGS_max_requeue_backoff_s));
  for (absl::string_view item : absl::StrSplit(absl::GetFlag(FLAGS_project_weights), ',', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(item, absl::MaxSplits('=', 1));
    double weight = 0;
    if (kv.first.empty() || !absl::SimpleAtod(kv.second, &weight) || weight <= 0) {
      return Fail(absl::StrCat("--project_weights: expected PROJECT=WEIGHT (WEIGHT > 0), got \"", item, "\""));
    }
    options.project_weights[kv.first] = weight;
  }
  options.path_roots = absl::GetFlag(FLAGS_path_roots);
  if (options.path_roots.empty()) options.path_roots = gwo::server::DefaultPathRoots();
  for (const std::string& root : options.path_roots) {
    if (root.empty() || root[0] != '/') return Fail(absl::StrCat("--path_roots: \"", root, "\" is not an absolute path"));
  }
  gwo::server::Coordinator core(store->get(), options);
  telemetry.Watch(&core);
  if (!registry.status().ok()) return Fail(absl::StrCat("metrics: ", registry.status().message()));
  // Workers that had attempts when the last coordinator stopped get a lease to come back in.
  if (absl::Status s = core.Recover(); !s.ok()) return Fail(absl::StrCat("recovering state: ", s.message()));
  gwo::server::AccessLimits limits;
  limits.requests_per_s = absl::GetFlag(FLAGS_rate_limit);
  limits.request_burst = absl::GetFlag(FLAGS_rate_burst);
  limits.streams_per_user = absl::GetFlag(FLAGS_max_streams_per_user);
  if (limits.requests_per_s <= 0 || limits.request_burst < 1 || limits.streams_per_user < 1) {
    return Fail("--rate_limit must be > 0, --rate_burst >= 1 and --max_streams_per_user >= 1");
  }
  gwo::server::AccessControl access(store->get(), limits);
  gwo::server::AccessGate gate(&access, /*worker_certificates=*/!tls.client_ca.empty());
  gwo::server::AccessServiceImpl access_service(&gate);
  gwo::server::ExperimentServiceImpl experiments(&core, &gate);
  gwo::server::MetricServiceImpl metrics(&core, &gate);
  gwo::server::ReportServiceImpl reports(&core, &gate);
  gwo::server::QueueServiceImpl queue(&core, &gate);
  gwo::server::GenerationRouter generation_router(absl::GetFlag(FLAGS_shared_filesystem));
  gwo::server::WorkerServiceImpl workers(&core, &generation_router, &gate,
                                         /*require_client_certificate=*/!tls.client_ca.empty());
  gwo::server::GenerationServiceImpl generation(core.store(), &generation_router, &gate);

  // Standard probes and clients: grpc.health.v1 (serving while the database answers,
  // like /readyz) and server reflection. Both answer without a token.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(absl::GetFlag(FLAGS_listen), *credentials, &port);
  builder.SetMaxReceiveMessageSize(gwo::kMaxRequestBytes);
  builder.SetMaxSendMessageSize(gwo::kMaxResponseBytes);
  builder.RegisterService(&experiments);
  builder.RegisterService(&metrics);
  builder.RegisterService(&reports);
  builder.RegisterService(&workers);
  builder.RegisterService(&queue);
  builder.RegisterService(&generation);
  builder.RegisterService(&access_service);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(gwo::server::MakeRpcMetricsInterceptorFactory(
      telemetry.rpc_duration(), {gwo::v1::ExperimentService::service_full_name(),
                                 gwo::v1::MetricService::service_full_name(),
                                 gwo::v1::WorkerService::service_full_name(),
                                 gwo::v1::QueueService::service_full_name(),
                                 gwo::v1::GenerationService::service_full_name(),
                                 gwo::v1::AccessService::service_full_name()}));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));

  // Ready: the database answers and the gRPC server is serving.
  std::atomic<bool> serving{false};
  std::unique_ptr<gwo::metrics::HttpServer> http;
  if (const std::string addr = absl::GetFlag(FLAGS_http_listen); !addr.empty()) {
    gwo::server::Store* db = store->get();
    auto started = gwo::metrics::ServeTelemetry(addr, &registry, [&serving, db]() -> absl::Status {
      if (!serving.load()) return absl::UnavailableError("gRPC server not serving");
      absl::StatusOr<int> version = db->SchemaVersion();
      if (!version.ok()) return absl::UnavailableError(absl::StrCat("database: ", version.status().message()));
      return absl::OkStatus();
    });
    if (started.ok()) {
      http = std::move(*started);
      std::cout << "gwo-coordinator serving /metrics, /healthz, /readyz on http://"
                << addr.substr(0, addr.rfind(':')) << ":" << http->port() << std::endl;
    } else if (addr != kDefaultHttpListen) {
      return Fail(std::string(started.status().message()));
    } else {
      gwo::LogWarning(absl::StrCat(started.status().message(), "; running without /metrics (see --http_listen)"));
    }
  }
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return Fail(absl::StrCat("cannot listen on ", absl::GetFlag(FLAGS_listen), " (address in use?)"));
  }
  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  health->SetServingStatus(false);  // until the first admin exists and the line below is printed
  std::string host = absl::GetFlag(FLAGS_listen);
  host = host.substr(0, host.rfind(':'));
  // First start: an admin and a worker token, written to this user's gwo config
  // before they are stored, so that they are never lost.
  {
    const std::string client_host = host == "0.0.0.0" || host == "[::]" || host == "::" ? "127.0.0.1" : host;
    const std::string address = absl::StrCat(client_host, ":", port);
    const std::string config_path = gwo::ClientConfigPath();
    absl::StatusOr<bool> created = access.BootstrapIfEmpty([&](const gwo::server::BootstrapTokens& t) {
      return gwo::UpdateClientConfig(config_path, [&](gwo::ClientConfig& c) {
        gwo::CoordinatorEntry& e = c.coordinators[address];
        e.token = t.admin_token;
        e.worker_token = t.worker_token;
        if (c.current.empty() || !c.coordinators.count(c.current)) c.current = address;
      });
    });
    if (!created.ok()) return Fail(absl::StrCat("creating the first admin: ", created.status().message()));
    if (*created) {
      std::cout << "gwo-coordinator: first start: created user admin; its token and a worker token for " << address
                << " are in " << config_path << " (0600)" << std::endl;
    } else if (absl::GetFlag(FLAGS_new_admin_token)) {
      absl::StatusOr<std::string> token = access.IssueAdminToken();
      absl::Status saved = token.status();
      if (saved.ok()) {
        saved = gwo::UpdateClientConfig(config_path, [&](gwo::ClientConfig& c) {
          c.coordinators[address].token = *token;
          if (c.current.empty()) c.current = address;
        });
      }
      if (!saved.ok()) return Fail(absl::StrCat("--new_admin_token: ", saved.message()));
      std::cout << "gwo-coordinator: a new token of user admin for " << address << " is in " << config_path
                << " (0600)" << std::endl;
    }
  }
  // Tests and scripts wait for this line.
  std::cout << "gwo-coordinator listening on " << host << ":" << port << " (" << database_desc << ")" << std::endl;
  serving = true;
  health->SetServingStatus(true);

  std::atomic<bool> stopping{false};
  std::thread sweeper([&] {
    for (int turn = 0; !stopping.load(); ++turn) {
      core.Sweep();
      if (turn % 2 == 0) health->SetServingStatus(store->get()->SchemaVersion().ok());
      for (int i = 0; i < 10 && !stopping.load(); ++i) usleep(100 * 1000);
    }
  });

  int sig = 0;
  sigwait(&stop_signals, &sig);
  gwo::LogInfo(absl::StrCat("received signal ", sig, ", shutting down"));
  stopping = true;
  serving = false;
  sweeper.join();
  health->SetServingStatus(false);
  core.DisconnectAll("coordinator shutting down");
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  server.reset();
  http.reset();  // before the core and the store its handlers read
  store->reset();
  embedded.reset();  // stops PostgreSQL
  gwo::LogInfo("stopped");
  return 0;
}
