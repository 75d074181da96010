// gwoctl: the command-line client of gwo's public gRPC API.
#include <cstdlib>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "client/commands.h"
#include "common/flags.h"

ABSL_FLAG(std::string, coordinator, "", "coordinator address; default $GWO_COORDINATOR, else 127.0.0.1:7070");
ABSL_FLAG(std::string, scale, "", "submit: which of the job.yaml's scales to run (e.g. cpu, gpu); default: its scale:");
ABSL_FLAG(bool, wait, false, "submit: wait until every run finished, printing progress");
ABSL_FLAG(std::string, idempotency_key, "", "submit: key making retries safe; default: a random key per call");
ABSL_FLAG(int, timeout_s, 30, "deadline of each call to the coordinator, in seconds");
ABSL_FLAG(int, limit, 100, "list: at most this many experiments");
ABSL_FLAG(std::vector<std::string>, names, {}, "metrics: only these metric names (comma-separated)");

namespace {

constexpr char kUsage[] = R"(gwoctl COMMAND [ARGS] [--coordinator HOST:PORT]

commands:
  submit FILE [--wait] [--scale NAME]
                         submit an experiment (job.yaml); --wait follows its runs to the end;
                         --scale picks one of its scales (cpu, gpu, ...)
  list                   experiments, newest first
  describe EXP           an experiment, its runs and its spec (EXP: exp-N)
  runs EXP               the runs of an experiment
  metrics RUN            a run's metric series, one row per step (RUN: run-N) [--names a,b]
  cancel EXP|RUN         cancel an experiment's unfinished runs, or one run
  wait EXP               follow an experiment's runs until they all finished
  queue [EXP]            queued runs: position, why each waits, estimated start)";

int Usage() {
  std::cerr << kUsage << "\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  std::vector<std::string> positional = gwo::ParseFlags(argc, argv);
  if (positional.size() < 2) return Usage();
  const std::string command = positional[1];
  std::vector<std::string> args(positional.begin() + 2, positional.end());

  gwo::client::Context c;
  c.address = absl::GetFlag(FLAGS_coordinator);
  if (c.address.empty()) {
    const char* env = std::getenv("GWO_COORDINATOR");
    c.address = env != nullptr && *env != '\0' ? env : "127.0.0.1:7070";
  }
  c.channel = grpc::CreateChannel(c.address, grpc::InsecureChannelCredentials());
  c.timeout = absl::Seconds(absl::GetFlag(FLAGS_timeout_s));

  auto need = [&](size_t n) { return args.size() == n; };
  if (command == "submit" && need(1)) {
    return gwo::client::Submit(c, args[0], absl::GetFlag(FLAGS_wait), absl::GetFlag(FLAGS_idempotency_key),
                              absl::GetFlag(FLAGS_scale));
  }
  if (command == "list" && need(0)) return gwo::client::List(c, absl::GetFlag(FLAGS_limit));
  if (command == "describe" && need(1)) return gwo::client::Describe(c, args[0]);
  if (command == "runs" && need(1)) return gwo::client::Runs(c, args[0]);
  if (command == "metrics" && need(1)) return gwo::client::Metrics(c, args[0], absl::GetFlag(FLAGS_names));
  if (command == "cancel" && need(1)) return gwo::client::Cancel(c, args[0]);
  if (command == "queue" && args.size() <= 1) return gwo::client::Queue(c, args.empty() ? "" : args[0]);
  if (command == "wait" && need(1)) {
    int64_t id = gwo::client::ParseId(args[0], "exp");
    if (id == 0) return Usage();
    return gwo::client::Wait(c, id);
  }
  return Usage();
}
