// gwo-worker: runs the attempts a coordinator assigns, one gwo-train child each.
#include <signal.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "common/flags.h"
#include "common/log.h"
#include "common/metrics/http_server.h"
#include "common/signals.h"
#include "common/client_config.h"
#include "common/tls.h"
#include "worker/agent/agent.h"
#include "worker/agent/devices.h"
#include "worker/agent/worker_metrics.h"

ABSL_FLAG(std::string, coordinator, "",
          "coordinator address; default $GWO_COORDINATOR, else the gwo config's current one, else 127.0.0.1:7070");
ABSL_FLAG(std::string, tls_ca, "", "PEM CA that signed the coordinator's certificate: connect over TLS");
ABSL_FLAG(std::string, token_file, "",
          "file holding the worker token (gwow_...); default $GWO_WORKER_TOKEN, else the worker_token the "
          "coordinator's first start wrote to the user's gwo config for this coordinator");
ABSL_FLAG(std::string, tls_cert, "", "PEM client certificate, for a coordinator with --tls_client_ca");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert");
ABSL_FLAG(std::string, name, "", "worker name (unique); default: the host name");
ABSL_FLAG(int, slots, 0, "attempts run at once; default: 1 per GPU, or 2 on a CPU-only host");
ABSL_FLAG(std::string, work_dir, "", "where attempts write their files; default /tmp/gwo-worker-<name>");
ABSL_FLAG(std::string, trainer, "", "the gwo-train binary; default: gwo-train next to gwo-worker");
ABSL_FLAG(int, stop_grace_s, 10, "seconds between SIGTERM and SIGKILL when stopping an attempt");
ABSL_FLAG(double, resend_after_s, 3, "unacknowledged reports are sent again after this many seconds");
ABSL_FLAG(double, max_reconnect_backoff_s, 10,
          "longest wait between reconnect attempts (exponential backoff with jitter up to it); keep it "
          "below the coordinator's --worker_lease_s");
ABSL_FLAG(std::string, http_listen, "",
          "HTTP address of /metrics, /healthz and /readyz (host:port, e.g. 127.0.0.1:9181; port 0 picks one); "
          "default: none");

namespace {

std::string SelfDir() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return ".";
  return std::filesystem::path(std::string(buf, n)).parent_path().string();
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("gwo-worker [--coordinator HOST:PORT] [--name NAME] [--slots N]");
  gwo::ParseFlags(argc, argv);
  gwo::SetLogComponent("worker");

  sigset_t stop_signals = gwo::BlockStopSignals();  // taken by the signal thread below

  gwo::worker::AgentOptions o;
  const std::string config_path = gwo::ClientConfigPath();
  absl::StatusOr<gwo::ClientConfig> config = gwo::LoadClientConfig(config_path);
  if (!config.ok()) {
    std::cerr << "gwo-worker: error: " << config.status().message() << "\n";
    return 2;
  }
  o.coordinator = absl::GetFlag(FLAGS_coordinator);
  if (o.coordinator.empty()) o.coordinator = gwo::DefaultCoordinator(*config);
  if (const std::string file = absl::GetFlag(FLAGS_token_file); !file.empty()) {
    std::ifstream in(file);
    if (!(in >> o.token)) {
      std::cerr << "gwo-worker: error: --token_file " << file << ": cannot read a token from it\n";
      return 2;
    }
  } else if (const char* env = std::getenv("GWO_WORKER_TOKEN"); env != nullptr && *env != '\0') {
    o.token = env;
  } else if (auto it = config->coordinators.find(o.coordinator); it != config->coordinators.end()) {
    o.token = it->second.worker_token;
  }
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials = gwo::MakeChannelCredentials(
      {absl::GetFlag(FLAGS_tls_ca), absl::GetFlag(FLAGS_tls_cert), absl::GetFlag(FLAGS_tls_key)});
  if (!credentials.ok()) {
    std::cerr << "gwo-worker: error: " << credentials.status().message() << "\n";
    return 2;
  }
  o.credentials = *credentials;
  o.name = absl::GetFlag(FLAGS_name);
  if (o.name.empty()) {
    char host[256] = {0};
    gethostname(host, sizeof(host) - 1);
    o.name = host;
  }
  o.devices = gwo::worker::DetectDevices();
  int gpus = 0;
  for (const auto& d : o.devices) gpus += d.kind() == "cuda";
  o.slots = absl::GetFlag(FLAGS_slots) > 0 ? absl::GetFlag(FLAGS_slots) : (gpus > 0 ? gpus : 2);
  o.work_dir = absl::GetFlag(FLAGS_work_dir).empty() ? absl::StrCat("/tmp/gwo-worker-", o.name)
                                                       : absl::GetFlag(FLAGS_work_dir);
  o.trainer_path = absl::GetFlag(FLAGS_trainer).empty() ? SelfDir() + "/gwo-train" : absl::GetFlag(FLAGS_trainer);
  o.stop_grace = absl::Seconds(absl::GetFlag(FLAGS_stop_grace_s));
  o.resend_after = absl::Seconds(absl::GetFlag(FLAGS_resend_after_s));
  o.max_reconnect_backoff = absl::Seconds(absl::GetFlag(FLAGS_max_reconnect_backoff_s));
  if (access(o.trainer_path.c_str(), X_OK) != 0) {
    std::cerr << "gwo-worker: error: trainer " << o.trainer_path << " is not an executable (see --trainer)\n";
    return 1;
  }

  gwo::metrics::Registry registry;
  gwo::worker::WorkerMetrics telemetry(&registry, o.slots,
                                       gpus > 0 ? gwo::worker::WorkerMetrics::GpuQuery(gwo::worker::QueryGpuStats)
                                                : nullptr);
  o.observer = &telemetry;
  if (!registry.status().ok()) {
    std::cerr << "gwo-worker: error: metrics: " << registry.status().message() << "\n";
    return 1;
  }
  std::unique_ptr<gwo::metrics::HttpServer> http;
  if (const std::string addr = absl::GetFlag(FLAGS_http_listen); !addr.empty()) {
    // Ready: registered with the coordinator.
    auto started = gwo::metrics::ServeTelemetry(addr, &registry, [&telemetry]() -> absl::Status {
      if (!telemetry.connected()) return absl::UnavailableError("not connected to the coordinator");
      return absl::OkStatus();
    });
    if (!started.ok()) {
      std::cerr << "gwo-worker: error: " << started.status().message() << "\n";
      return 1;
    }
    http = std::move(*started);
    std::cout << "gwo-worker serving /metrics, /healthz, /readyz on http://" << addr.substr(0, addr.rfind(':'))
              << ":" << http->port() << std::endl;
  }


  // Reports not yet acknowledged survive a restart of the worker here.
  auto spool = gwo::worker::Spool::Open(o.work_dir + "/spool");
  if (!spool.ok()) {
    std::cerr << "gwo-worker: error: " << spool.status().message() << "\n";
    return 1;
  }
  gwo::worker::Agent agent(o, *std::move(spool));
  std::thread signals([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    gwo::LogInfo(absl::StrCat("received signal ", sig, ", stopping"));
    agent.Shutdown();
  });
  gwo::LogInfo(absl::StrCat("worker ", o.name, " with ", o.devices.size(), " device(s), ", o.slots,
                            " slot(s), coordinator ", o.coordinator));
  agent.Run();
  // Run returns only after Shutdown, which the signal thread called.
  signals.join();
  http.reset();  // before the registry and telemetry its handlers read
  return 0;
}
