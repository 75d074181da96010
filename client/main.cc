// gwoctl: the command-line client of gwo's public gRPC API.
#include <cstdlib>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/escaping.h"
#include "client/commands.h"
#include "client/generate.h"
#include "common/flags.h"

ABSL_FLAG(std::string, coordinator, "", "coordinator address; default $GWO_COORDINATOR, else 127.0.0.1:7070");
ABSL_FLAG(bool, wait, false, "submit: wait until every run finished, printing progress");
ABSL_FLAG(std::string, idempotency_key, "", "submit: key making retries safe; default: a random key per call");
ABSL_FLAG(int, timeout_s, 30, "deadline of each call to the coordinator, in seconds");
ABSL_FLAG(int, limit, 100, "list: at most this many experiments");
ABSL_FLAG(std::vector<std::string>, names, {}, "metrics: only these metric names (comma-separated)");
ABSL_FLAG(std::string, checkpoint, "final", "generate: final, best or step:N");
ABSL_FLAG(int, max_tokens, 64, "generate: new tokens at most");
ABSL_FLAG(double, temperature, 1.0, "generate: sampling temperature; 0: greedy");
ABSL_FLAG(int, top_k, 0, "generate: sample among the k most likely tokens; 0: all");
ABSL_FLAG(double, top_p, 1.0, "generate: nucleus sampling mass in (0, 1]");
ABSL_FLAG(uint64_t, seed, 0, "generate: random seed");
ABSL_FLAG(std::vector<std::string>, stop, {},
          "generate: stop strings, comma-separated, with C escapes (e.g. '\\n\\n')");
ABSL_FLAG(bool, ignore_eos, false, "generate: continue past the end-of-text token");
ABSL_FLAG(int, generate_timeout_s, 600, "generate: deadline of the whole stream, in seconds");

namespace {

constexpr char kUsage[] = R"(gwoctl COMMAND [ARGS] [--coordinator HOST:PORT]

commands:
  submit FILE [--wait]   submit an experiment (job.yaml); --wait follows its runs to the end
  list                   experiments, newest first
  describe EXP           an experiment, its runs and its spec (EXP: exp-N)
  runs EXP               the runs of an experiment
  metrics RUN            a run's metric series, one row per step (RUN: run-N) [--names a,b]
  cancel EXP|RUN         cancel an experiment's unfinished runs, or one run
  wait EXP               follow an experiment's runs until they all finished
  generate RUN PROMPT    stream text from a run's model [--checkpoint final|best|step:N
                         --max_tokens --temperature --top_k --top_p --seed --stop])";

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
    return gwo::client::Submit(c, args[0], absl::GetFlag(FLAGS_wait), absl::GetFlag(FLAGS_idempotency_key));
  }
  if (command == "list" && need(0)) return gwo::client::List(c, absl::GetFlag(FLAGS_limit));
  if (command == "describe" && need(1)) return gwo::client::Describe(c, args[0]);
  if (command == "runs" && need(1)) return gwo::client::Runs(c, args[0]);
  if (command == "metrics" && need(1)) return gwo::client::Metrics(c, args[0], absl::GetFlag(FLAGS_names));
  if (command == "cancel" && need(1)) return gwo::client::Cancel(c, args[0]);
  if (command == "wait" && need(1)) {
    int64_t id = gwo::client::ParseId(args[0], "exp");
    if (id == 0) return Usage();
    return gwo::client::Wait(c, id);
  }
  if (command == "generate" && (need(2) || need(1))) {
    gwo::client::GenerateOptions o;
    o.checkpoint = absl::GetFlag(FLAGS_checkpoint);
    o.max_tokens = absl::GetFlag(FLAGS_max_tokens);
    o.temperature = absl::GetFlag(FLAGS_temperature);
    o.top_k = absl::GetFlag(FLAGS_top_k);
    o.top_p = absl::GetFlag(FLAGS_top_p);
    o.seed = absl::GetFlag(FLAGS_seed);
    o.ignore_eos = absl::GetFlag(FLAGS_ignore_eos);
    o.timeout = absl::Seconds(absl::GetFlag(FLAGS_generate_timeout_s));
    for (const std::string& s : absl::GetFlag(FLAGS_stop)) {
      std::string unescaped;
      if (!absl::CUnescape(s, &unescaped)) {
        std::cerr << "gwoctl: --stop: bad escape in \"" << s << "\"\n";
        return 2;
      }
      o.stop.push_back(unescaped);
    }
    return gwo::client::Generate(c, args[0], args.size() > 1 ? args[1] : "", o);
  }
  return Usage();
}
