// gwoctl: the command-line client of gwo's public gRPC API.
#include <cstdlib>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/escaping.h"
#include "client/access_commands.h"
#include "client/commands.h"
#include "client/live_commands.h"
#include "client/report_commands.h"
#include "client/generate.h"
#include "common/client_config.h"
#include "common/flags.h"
#include "common/tls.h"

ABSL_FLAG(std::string, coordinator, "",
          "coordinator address; default $GWO_COORDINATOR, else the one of the last gwoctl login (or of a "
          "coordinator's first start), else 127.0.0.1:7070");
ABSL_FLAG(std::string, tls_ca, "",
          "PEM CA of the coordinator's TLS certificate; default $GWO_TLS_CA, else the one saved by login; "
          "empty: plaintext");
ABSL_FLAG(std::string, role, "", "user create: viewer, member (default) or admin");
ABSL_FLAG(std::vector<std::string>, projects, {}, "user create: projects to add the user to (comma-separated)");
ABSL_FLAG(std::string, name, "", "token create: a name to recognise the token by");
ABSL_FLAG(std::string, ttl, "", "token create: lifetime, e.g. 90d, 12h, 30m; default: never expires");
ABSL_FLAG(std::string, user, "", "token create/list: another user's tokens (admin)");
ABSL_FLAG(bool, worker, false, "token create: a worker token, for gwo-worker --token_file (admin)");
ABSL_FLAG(int, audit_limit, 100, "audit: the newest N entries");
ABSL_FLAG(std::string, scale, "", "submit: which of the job.yaml's scales to run (e.g. cpu, gpu); default: its scale:");
ABSL_FLAG(bool, wait, false, "submit: wait until every run finished, printing progress");
ABSL_FLAG(std::string, idempotency_key, "", "submit: key making retries safe; default: a random key per call");
ABSL_FLAG(int, timeout_s, 30, "deadline of each call to the coordinator, in seconds");
ABSL_FLAG(int, limit, 100, "list: at most this many experiments");
ABSL_FLAG(std::vector<std::string>, names, {}, "metrics: only these metric names (comma-separated)");
ABSL_FLAG(std::string, format, "",
          "report: text (default), markdown, csv or json; plot: svg or png (default: by -o's extension)");
ABSL_FLAG(std::string, baseline, "", "report: variant to compare against; default: the experiment's first variant");
ABSL_FLAG(std::vector<std::string>, metrics, {}, "report: only these metrics (comma-separated)");
ABSL_FLAG(bool, all_runs, false, "report: also count runs that did not succeed, with their last values");
ABSL_FLAG(std::string, metric, "", "plot: the metric to draw, e.g. val_loss");
ABSL_FLAG(std::string, o, "", "plot: output file (.svg or .png)");
ABSL_FLAG(int, max_points, 500, "plot: points per run, downsampled on the server keeping each bucket's min/max");
ABSL_FLAG(bool, log_y, false, "plot: logarithmic y axis");
ABSL_FLAG(bool, f, false, "logs: follow: keep printing new lines until the run ends");
ABSL_FLAG(bool, follow, false, "logs: same as -f");
ABSL_FLAG(int, tail, 0, "logs: only the last N lines of the history (0: all)");
ABSL_FLAG(int, stream_timeout_s, 86400, "logs -f: deadline of the stream, in seconds");
ABSL_FLAG(double, interval_s, 1.0, "watch: seconds between refreshes");
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
  submit FILE [--wait] [--scale NAME]
                         submit an experiment (job.yaml); --wait follows its runs to the end;
                         --scale picks one of its scales (cpu, gpu, ...)
  list                   experiments, newest first
  describe EXP           an experiment, its runs and its spec (EXP: exp-N)
  runs EXP               the runs of an experiment
  metrics RUN            a run's metric series, one row per step (RUN: run-N) [--names a,b]
  cancel EXP|RUN         cancel an experiment's unfinished runs, or one run
  wait EXP               follow an experiment's runs until they all finished
  queue [EXP]            queued runs: position, why each waits, estimated start
  report EXP             mean ± std over seeds per dataset x variant, improvement over the baseline
                         [--format text|markdown|csv|json] [--baseline V] [--metrics a,b] [--all_runs]
  compare RUN RUN...     runs side by side: latest metrics and spec differences
  plot EXP --metric M -o FILE.svg|FILE.png
                         curves, one line per run, seeds shaded as mean ± std [--log_y]
                         [--format svg|png] (default: by -o's extension)
  logs RUN [-f]          a run's log [--tail N]; -f follows it until the run ends
  watch EXP              live table: progress bars, step/s and ETA until every run ended

  generate RUN PROMPT    stream text from a run's model [--checkpoint final|best|step:N
                         --max_tokens --temperature --top_k --top_p --seed --stop]

access (every call carries a token: $GWO_TOKEN, else the one saved for the coordinator):
  login                  read a token from stdin (or $GWO_TOKEN), check it, save it (0600) for this coordinator
  whoami                 your user, role, projects and token
  user list | create NAME [--role R] [--projects a,b] | set-role NAME R | disable NAME | enable NAME   (admin)
  project list | create NAME | add PROJECT USER | remove PROJECT USER    (create/add/remove: admin)
  token create [--name N] [--ttl 90d] [--user U | --worker] | list [--user U] | revoke ID
  audit [--audit_limit N]    state-changing calls: who, what, when, from where (admin))";

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

  absl::StatusOr<gwo::ClientConfig> config = gwo::LoadClientConfig(gwo::ClientConfigPath());
  if (!config.ok()) {
    std::cerr << "gwoctl: " << config.status().message() << "\n";
    return 2;
  }
  gwo::client::Context c;
  c.address = absl::GetFlag(FLAGS_coordinator);
  if (c.address.empty()) c.address = gwo::DefaultCoordinator(*config);
  const gwo::CoordinatorEntry saved = config->coordinators.count(c.address) ? config->coordinators.at(c.address)
                                                                            : gwo::CoordinatorEntry{};
  std::string tls_ca = absl::GetFlag(FLAGS_tls_ca);
  if (const char* env = std::getenv("GWO_TLS_CA"); tls_ca.empty() && env != nullptr) tls_ca = env;
  if (tls_ca.empty()) tls_ca = saved.tls_ca;
  const std::string token = gwo::UserTokenFor(*config, c.address);
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials = gwo::MakeChannelCredentials({tls_ca});
  if (!credentials.ok()) {
    std::cerr << "gwoctl: " << credentials.status().message() << "\n";
    return 2;
  }
  c.channel = gwo::MakeCoordinatorChannel(c.address, *credentials, token);
  c.timeout = absl::Seconds(absl::GetFlag(FLAGS_timeout_s));

  gwo::client::AccessOptions access;
  access.role = absl::GetFlag(FLAGS_role);
  access.projects = absl::GetFlag(FLAGS_projects);
  access.name = absl::GetFlag(FLAGS_name);
  access.ttl = absl::GetFlag(FLAGS_ttl);
  access.user = absl::GetFlag(FLAGS_user);
  access.worker = absl::GetFlag(FLAGS_worker);
  access.limit = absl::GetFlag(FLAGS_audit_limit);
  if (command == "login" && args.empty()) return gwo::client::Login(c, tls_ca);
  if (command == "whoami" && args.empty()) return gwo::client::WhoAmI(c);
  if (command == "user") return gwo::client::UserCommand(c, args, access);
  if (command == "project") return gwo::client::ProjectCommand(c, args, access);
  if (command == "token") return gwo::client::TokenCommand(c, args, access);
  if (command == "audit" && args.empty()) return gwo::client::Audit(c, access);

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
  if (command == "report" && need(1)) {
    gwo::client::ReportOptions o;
    o.format = absl::GetFlag(FLAGS_format).empty() ? "text" : absl::GetFlag(FLAGS_format);
    o.baseline = absl::GetFlag(FLAGS_baseline);
    o.metrics = absl::GetFlag(FLAGS_metrics);
    o.include_unfinished = absl::GetFlag(FLAGS_all_runs);
    return gwo::client::Report(c, args[0], o);
  }
  if (command == "compare" && args.size() >= 2) return gwo::client::Compare(c, args);
  if (command == "plot" && need(1)) {
    gwo::client::PlotOptions o;
    o.metric = absl::GetFlag(FLAGS_metric);
    o.output = absl::GetFlag(FLAGS_o);
    o.format = absl::GetFlag(FLAGS_format);
    o.max_points = absl::GetFlag(FLAGS_max_points);
    o.log_y = absl::GetFlag(FLAGS_log_y);
    return gwo::client::Plot(c, args[0], o);
  }
  if (command == "logs" && need(1)) {
    return gwo::client::Logs(c, args[0], absl::GetFlag(FLAGS_tail), absl::GetFlag(FLAGS_f) || absl::GetFlag(FLAGS_follow),
                             absl::Seconds(absl::GetFlag(FLAGS_stream_timeout_s)));
  }
  if (command == "watch" && need(1)) {
    return gwo::client::Watch(c, args[0], absl::Seconds(absl::GetFlag(FLAGS_interval_s)));
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
