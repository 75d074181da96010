#include "client/commands.h"

#include <unistd.h>

#include <cmath>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/table.h"
#include "common/utf8.h"
#include "gwo/v1/experiments.grpc.pb.h"
#include "gwo/v1/metrics.grpc.pb.h"

namespace gwo::client {
namespace {

using gwo::v1::ExperimentService;
using gwo::v1::MetricService;

std::unique_ptr<grpc::ClientContext> Call(const Context& c) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() +
                    std::chrono::milliseconds(absl::ToInt64Milliseconds(c.timeout)));
  return ctx;
}

// Prints one clear line (or the server's multi-line spec errors) and returns 1.
int Fail(const Context& c, const grpc::Status& s) {
  switch (s.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      // The coordinator answered, but its database is down (it reconnects by itself).
      if (absl::StrContains(s.error_message(), "PostgreSQL")) {
        std::cerr << "gwoctl: the coordinator at " << c.address
                  << " cannot reach its database right now (UNAVAILABLE; retry later): " << s.error_message() << "\n";
        break;
      }
      std::cerr << "gwoctl: cannot reach the coordinator at " << c.address
                << " (is gwo-coordinator running? set --coordinator or GWO_COORDINATOR): " << s.error_message()
                << "\n";
      break;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      std::cerr << "gwoctl: the coordinator at " << c.address << " did not answer within "
                << absl::FormatDuration(c.timeout) << "\n";
      break;
    case grpc::StatusCode::INVALID_ARGUMENT:
      std::cerr << "gwoctl: invalid: " << s.error_message() << "\n";
      break;
    case grpc::StatusCode::NOT_FOUND:
      std::cerr << "gwoctl: not found: " << s.error_message() << "\n";
      break;
    case grpc::StatusCode::UNAUTHENTICATED:
      std::cerr << "gwoctl: the coordinator at " << c.address << " does not accept your token: " << s.error_message()
                << "\n";
      break;
    case grpc::StatusCode::PERMISSION_DENIED:
      std::cerr << "gwoctl: not allowed: " << s.error_message() << "\n";
      break;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      std::cerr << "gwoctl: too many requests: " << s.error_message() << "\n";
      break;
    default:
      std::cerr << "gwoctl: error (" << s.error_code() << "): " << s.error_message() << "\n";
  }
  return 1;
}

std::string StateName(gwo::v1::RunState s) {
  std::string n = gwo::v1::RunState_Name(s);
  return n.substr(std::string("RUN_STATE_").size());
}

std::string StateName(gwo::v1::ExperimentState s) {
  std::string n = gwo::v1::ExperimentState_Name(s);
  return n.substr(std::string("EXPERIMENT_STATE_").size());
}

bool Terminal(gwo::v1::RunState s) {
  return s == gwo::v1::RUN_STATE_SUCCEEDED || s == gwo::v1::RUN_STATE_FAILED || s == gwo::v1::RUN_STATE_CANCELLED;
}

std::string Metric(const gwo::v1::Run& r, const std::string& name, int precision = 4) {
  auto it = r.latest_metrics().find(name);
  if (it == r.latest_metrics().end()) return "-";
  return absl::StrFormat("%.*f", precision, it->second);
}

std::string Time(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixSeconds(t.seconds()), absl::LocalTimeZone());
}

std::string RunsSummary(const gwo::v1::Experiment& e) {
  std::vector<std::string> parts;
  for (const auto& [state, count] : e.runs_by_state()) {
    if (count > 0) parts.push_back(absl::StrCat(count, " ", absl::AsciiStrToLower(state.substr(10))));
  }
  std::sort(parts.begin(), parts.end());
  return absl::StrJoin(parts, ", ");
}

std::string RunsTable(const google::protobuf::RepeatedPtrField<gwo::v1::Run>& runs) {
  Table t({"RUN", "NAME", "STATE", "STEP", "ATTEMPT", "WORKER", "TRAIN_LOSS", "VAL_LOSS", "VAL_PPL"});
  for (const auto& r : runs) {
    t.AddRow({absl::StrCat("run-", r.id()), r.name(), StateName(r.state()),
              absl::StrCat(r.step(), "/", r.total_steps()), absl::StrCat(r.attempt()),
              r.worker().empty() ? "-" : r.worker(), Metric(r, "train_loss"), Metric(r, "val_loss"),
              Metric(r, "val_ppl", 3)});
  }
  return t.Render();
}

// Parses an EXP argument; prints what was expected when it is not an id.
bool ParseExperimentArg(const std::string& text, int64_t* id) {
  *id = ParseId(text, "exp");
  if (*id == 0) std::cerr << "gwoctl: expected an experiment id like exp-3, got \"" << text << "\"\n";
  return *id != 0;
}

grpc::Status FetchRuns(const Context& c, int64_t experiment_id, gwo::v1::ListRunsResponse* resp) {
  gwo::v1::ListRunsRequest req;
  req.set_experiment_id(experiment_id);
  return ExperimentService::NewStub(c.channel)->ListRuns(Call(c).get(), req, resp);
}

std::string RandomKey() {
  std::random_device rd;
  return absl::StrFormat("gwoctl-%08x%08x%08x", rd(), rd(), rd());
}

}  // namespace

int FailCall(const Context& c, const grpc::Status& s) { return Fail(c, s); }
std::unique_ptr<grpc::ClientContext> CallContext(const Context& c) { return Call(c); }
int CallFailed(const Context& c, const grpc::Status& s) { return Fail(c, s); }
std::string ShortStateName(gwo::v1::RunState s) { return StateName(s); }
bool IsTerminalState(gwo::v1::RunState s) { return Terminal(s); }

int64_t ParseId(const std::string& text, const std::string& prefix) {
  std::string digits = text;
  if (digits.rfind(prefix + "-", 0) == 0) digits = digits.substr(prefix.size() + 1);
  int64_t id = 0;
  if (!absl::SimpleAtoi(digits, &id) || id <= 0) return 0;
  return id;
}

int Submit(const Context& c, const std::string& file, bool wait, std::string idempotency_key,
           const std::string& scale) {
  std::ifstream in(file);
  if (!in) {
    std::cerr << "gwoctl: cannot read " << file << "\n";
    return 1;
  }
  std::stringstream text;
  text << in.rdbuf();
  // A protobuf string must be UTF-8: say where the file breaks it rather than fail to serialise.
  if (std::optional<Utf8Error> bad = FindInvalidUtf8(text.str())) {
    std::cerr << "gwoctl: " << file << ":" << bad->line + 1 << ":" << bad->column + 1
              << ": not UTF-8 text at byte offset " << bad->offset << ": " << bad->what << "\n";
    return 1;
  }
  gwo::v1::SubmitExperimentRequest req;
  req.set_spec_yaml(text.str());
  req.set_file_name(file);
  req.set_scale(scale);
  // A key per invocation makes the retry below safe: it cannot create a second experiment.
  req.set_idempotency_key(idempotency_key.empty() ? RandomKey() : idempotency_key);
  auto stub = ExperimentService::NewStub(c.channel);
  gwo::v1::SubmitExperimentResponse resp;
  grpc::Status s;
  for (int attempt = 0; attempt < 3; ++attempt) {
    resp.Clear();
    s = stub->SubmitExperiment(Call(c).get(), req, &resp);
    if (s.error_code() != grpc::StatusCode::UNAVAILABLE) break;
    sleep(1);
  }
  if (!s.ok()) return Fail(c, s);
  const auto& e = resp.experiment();
  std::cout << (resp.deduplicated() ? "already submitted: " : "submitted ") << "exp-" << e.id() << " (" << e.name()
            << ") with " << resp.runs_size() << " runs\n";
  for (const auto& r : resp.runs()) std::cout << "  run-" << r.id() << "  " << r.name() << "\n";
  if (!wait) return 0;
  return Wait(c, e.id());
}

int Wait(const Context& c, int64_t experiment_id) {
  std::map<int64_t, std::pair<gwo::v1::RunState, int64_t>> seen;  // run -> (state, step)
  int unreachable = 0;
  for (;;) {
    gwo::v1::ListRunsResponse resp;
    grpc::Status s = FetchRuns(c, experiment_id, &resp);
    if (!s.ok()) {
      // Ride out a coordinator restart for a while; the experiment is safe in its database.
      if (s.error_code() == grpc::StatusCode::UNAVAILABLE && ++unreachable < 60) {
        sleep(1);
        continue;
      }
      return Fail(c, s);
    }
    unreachable = 0;
    bool all_done = true;
    for (const auto& r : resp.runs()) {
      all_done = all_done && Terminal(r.state());
      auto& last = seen[r.id()];
      bool changed = last.first != r.state();
      // Progress lines every ~10% of the run, and on every state change.
      bool progressed = r.total_steps() > 0 && (r.step() - last.second) * 10 >= r.total_steps();
      if (!changed && !progressed) continue;
      last = {r.state(), r.step()};
      std::string line = absl::StrFormat("%s  run-%d %-28s %-9s step %d/%d", 
                                         absl::FormatTime("%H:%M:%S", absl::Now(), absl::LocalTimeZone()), r.id(),
                                         r.name(), StateName(r.state()), r.step(), r.total_steps());
      if (r.latest_metrics().count("train_loss")) absl::StrAppend(&line, "  train_loss ", Metric(r, "train_loss"));
      if (r.latest_metrics().count("val_ppl")) absl::StrAppend(&line, "  val_ppl ", Metric(r, "val_ppl", 3));
      std::cout << line << std::endl;
      if (r.state() == gwo::v1::RUN_STATE_FAILED && !r.error().empty()) {
        std::cout << "    error: " << r.error() << std::endl;
      }
    }
    if (all_done) {
      std::cout << "\n" << RunsTable(resp.runs());
      int succeeded = 0;
      for (const auto& r : resp.runs()) succeeded += r.state() == gwo::v1::RUN_STATE_SUCCEEDED;
      std::cout << "\nexp-" << experiment_id << ": " << succeeded << "/" << resp.runs_size() << " runs succeeded\n";
      for (const auto& r : resp.runs()) {
        if (r.state() == gwo::v1::RUN_STATE_SUCCEEDED) {
          std::cout << "  " << r.name() << "  final val_ppl " << Metric(r, "val_ppl", 3) << "\n";
        }
      }
      return succeeded == resp.runs_size() ? 0 : 1;
    }
    sleep(1);
  }
}

int List(const Context& c, int limit) {
  auto stub = ExperimentService::NewStub(c.channel);
  gwo::v1::ListExperimentsRequest req;
  req.set_limit(limit);
  gwo::v1::ListExperimentsResponse resp;
  grpc::Status s = stub->ListExperiments(Call(c).get(), req, &resp);
  if (!s.ok()) return Fail(c, s);
  Table t({"EXPERIMENT", "NAME", "STATE", "RUNS", "CREATED"});
  for (const auto& e : resp.experiments()) {
    t.AddRow({absl::StrCat("exp-", e.id()), e.name(), StateName(e.state()),
              absl::StrCat(e.run_count(), " (", RunsSummary(e), ")"), Time(e.created_at())});
  }
  std::cout << t.Render();
  return 0;
}

int Describe(const Context& c, const std::string& experiment) {
  int64_t id = 0;
  if (!ParseExperimentArg(experiment, &id)) return 1;
  auto stub = ExperimentService::NewStub(c.channel);
  gwo::v1::GetExperimentRequest req;
  req.set_experiment_id(id);
  gwo::v1::GetExperimentResponse resp;
  grpc::Status s = stub->GetExperiment(Call(c).get(), req, &resp);
  if (!s.ok()) return Fail(c, s);
  const auto& e = resp.experiment();
  std::cout << "experiment: exp-" << e.id() << "\nname:       " << e.name() << "\nstate:      "
            << StateName(e.state()) << "\nruns:       " << e.run_count() << " (" << RunsSummary(e) << ")"
            << "\ncreated:    " << Time(e.created_at()) << "\nfinished:   " << Time(e.finished_at()) << "\n\n";
  gwo::v1::ListRunsResponse runs;
  s = FetchRuns(c, id, &runs);
  if (!s.ok()) return Fail(c, s);
  std::cout << RunsTable(runs.runs());
  for (const auto& r : runs.runs()) {
    if (!r.error().empty()) std::cout << "\nrun-" << r.id() << " " << r.name() << ": " << r.error() << "\n";
  }
  std::cout << "\nspec:\n" << e.spec_yaml();
  return 0;
}

int Runs(const Context& c, const std::string& experiment) {
  int64_t id = 0;
  if (!ParseExperimentArg(experiment, &id)) return 1;
  gwo::v1::ListRunsResponse resp;
  grpc::Status s = FetchRuns(c, id, &resp);
  if (!s.ok()) return Fail(c, s);
  std::cout << RunsTable(resp.runs());
  return 0;
}

int Metrics(const Context& c, const std::string& run, const std::vector<std::string>& names) {
  int64_t id = ParseId(run, "run");
  if (id == 0) {
    std::cerr << "gwoctl: expected a run id like run-7, got \"" << run << "\"\n";
    return 1;
  }
  auto stub = MetricService::NewStub(c.channel);
  gwo::v1::QueryMetricsRequest req;
  req.set_run_id(id);
  for (const auto& n : names) req.add_names(n);
  gwo::v1::QueryMetricsResponse resp;
  grpc::Status s = stub->QueryMetrics(Call(c).get(), req, &resp);
  if (!s.ok()) return Fail(c, s);
  // One row per step, one column per metric.
  std::vector<std::string> header = {"STEP"};
  std::map<int64_t, std::map<std::string, double>> by_step;
  for (const auto& series : resp.series()) {
    header.push_back(series.name());
    for (const auto& p : series.points()) by_step[p.step()][series.name()] = p.value();
  }
  Table t(header);
  for (const auto& [step, values] : by_step) {
    std::vector<std::string> row = {absl::StrCat(step)};
    for (size_t i = 1; i < header.size(); ++i) {
      auto it = values.find(header[i]);
      row.push_back(it == values.end() ? "" : absl::StrFormat("%.6g", it->second));
    }
    t.AddRow(row);
  }
  std::cout << t.Render();
  return 0;
}

int Cancel(const Context& c, const std::string& target) {
  auto stub = ExperimentService::NewStub(c.channel);
  if (target.rfind("exp-", 0) == 0) {
    gwo::v1::CancelExperimentRequest req;
    req.set_experiment_id(ParseId(target, "exp"));
    gwo::v1::CancelExperimentResponse resp;
    grpc::Status s = stub->CancelExperiment(Call(c).get(), req, &resp);
    if (!s.ok()) return Fail(c, s);
    std::cout << "cancelled " << target << ": " << resp.cancelled_runs() << " unfinished run(s) stopped\n";
    return 0;
  }
  if (target.rfind("run-", 0) == 0) {
    gwo::v1::CancelRunRequest req;
    req.set_run_id(ParseId(target, "run"));
    gwo::v1::CancelRunResponse resp;
    grpc::Status s = stub->CancelRun(Call(c).get(), req, &resp);
    if (!s.ok()) return Fail(c, s);
    std::cout << (resp.cancelled() ? "cancelled " : "already finished: ") << target << "\n";
    return 0;
  }
  std::cerr << "gwoctl: cancel takes exp-N or run-N, got \"" << target << "\"\n";
  return 1;
}

}  // namespace gwo::client
