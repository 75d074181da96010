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
#include "absl/strings/str_cat.h"
#include "common/flags.h"
#include "common/log.h"
#include "common/signals.h"
#include "grpcpp/grpcpp.h"
#include "server/coordinator.h"
#include "server/rpc/experiment_service.h"
#include "server/rpc/generation_service.h"
#include "server/rpc/worker_service.h"
#include "server/store/embedded_postgres.h"
#include "server/store/store.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7070", "gRPC listen address (host:port; port 0 picks one)");
ABSL_FLAG(std::string, data_dir, "",
          "state directory (embedded PostgreSQL lives in <data_dir>/postgres); default $GWO_DATA_DIR, "
          "else /var/lib/gwo as root, else ~/.local/share/gwo");
ABSL_FLAG(std::string, database_url, "",
          "PostgreSQL to use instead of the embedded one (postgres://user@host:port/db or a libpq conninfo)");
ABSL_FLAG(std::string, pg_bin_dir, "", "where initdb/pg_ctl are; default: newest /usr/lib/postgresql/*/bin");
ABSL_FLAG(int, worker_lease_s, 30, "a worker silent this many seconds is considered lost");
ABSL_FLAG(int, heartbeat_interval_s, 5, "heartbeat interval asked of workers");
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

  gwo::server::CoordinatorOptions options;
  options.worker_lease = absl::Seconds(absl::GetFlag(FLAGS_worker_lease_s));
  options.heartbeat_interval = absl::Seconds(absl::GetFlag(FLAGS_heartbeat_interval_s));
  gwo::server::Coordinator core(store->get(), options);
  gwo::server::ExperimentServiceImpl experiments(&core);
  gwo::server::MetricServiceImpl metrics(&core);
  gwo::server::GenerationRouter generation_router(absl::GetFlag(FLAGS_shared_filesystem));
  gwo::server::WorkerServiceImpl workers(&core, &generation_router);
  gwo::server::GenerationServiceImpl generation(core.store(), &generation_router);

  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(absl::GetFlag(FLAGS_listen), grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&experiments);
  builder.RegisterService(&metrics);
  builder.RegisterService(&workers);
  builder.RegisterService(&generation);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return Fail(absl::StrCat("cannot listen on ", absl::GetFlag(FLAGS_listen), " (address in use?)"));
  }
  std::string host = absl::GetFlag(FLAGS_listen);
  host = host.substr(0, host.rfind(':'));
  // Tests and scripts wait for this line.
  std::cout << "gwo-coordinator listening on " << host << ":" << port << " (" << database_desc << ")" << std::endl;

  std::atomic<bool> stopping{false};
  std::thread sweeper([&] {
    while (!stopping.load()) {
      core.Sweep();
      for (int i = 0; i < 10 && !stopping.load(); ++i) usleep(100 * 1000);
    }
  });

  int sig = 0;
  sigwait(&stop_signals, &sig);
  gwo::LogInfo(absl::StrCat("received signal ", sig, ", shutting down"));
  stopping = true;
  sweeper.join();
  core.DisconnectAll("coordinator shutting down");
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  server.reset();
  store->reset();
  embedded.reset();  // stops PostgreSQL
  gwo::LogInfo("stopped");
  return 0;
}
