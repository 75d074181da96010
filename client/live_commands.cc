#include "client/live_commands.h"

#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "client/progress.h"
#include "client/table.h"
#include "gwo/v1/experiments.grpc.pb.h"
#include "gwo/v1/metrics.grpc.pb.h"

namespace gwo::client {
namespace {

std::string LatestLoss(const gwo::v1::Run& r) {
  for (const char* name : {"val_loss", "train_loss"}) {
    auto it = r.latest_metrics().find(name);
    if (it != r.latest_metrics().end()) return absl::StrFormat("%s %.4f", name, it->second);
  }
  return "-";
}

struct RunView {
  RateEstimator rate;
  gwo::v1::RunState state = gwo::v1::RUN_STATE_UNSPECIFIED;
  int64_t printed_step = -1;
};

std::string Rate(const RunView& v, const gwo::v1::Run& r) {
  return r.state() == gwo::v1::RUN_STATE_RUNNING && v.rate.rate() > 0 ? absl::StrFormat("%.2f", v.rate.rate())
                                                                       : "-";
}

std::string Eta(const RunView& v, const gwo::v1::Run& r) {
  return r.state() == gwo::v1::RUN_STATE_RUNNING ? FormatEta(v.rate.Eta(r.total_steps())) : "-";
}

}  // namespace

int Logs(const Context& c, const std::string& run, int tail, bool follow, absl::Duration stream_timeout) {
  const int64_t id = ParseId(run, "run");
  if (id == 0) {
    std::cerr << "gwoctl: expected a run id like run-7, got \"" << run << "\"\n";
    return 1;
  }
  if (tail < 0) {
    std::cerr << "gwoctl: --tail must be >= 0 (0: the whole log), got " << tail << "\n";
    return 2;
  }
  gwo::v1::StreamLogsRequest req;
  req.set_run_id(id);
  req.set_tail(tail);
  req.set_follow(follow);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() +
                   std::chrono::milliseconds(absl::ToInt64Milliseconds(stream_timeout)));
  auto reader = gwo::v1::MetricService::NewStub(c.channel)->StreamLogs(&ctx, req);
  gwo::v1::StreamLogsResponse msg;
  int attempt = 0;
  while (reader->Read(&msg)) {
    for (const auto& line : msg.lines()) {
      if (attempt != 0 && line.attempt() != attempt) std::cout << "--- attempt " << line.attempt() << "\n";
      attempt = line.attempt();
      std::cout << line.text() << "\n";
    }
    std::cout.flush();
  }
  grpc::Status s = reader->Finish();
  if (!s.ok()) return CallFailed(c, s);
  return 0;
}

int Watch(const Context& c, const std::string& experiment, absl::Duration interval) {
  const int64_t id = ParseId(experiment, "exp");
  if (id == 0) {
    std::cerr << "gwoctl: expected an experiment id like exp-3, got \"" << experiment << "\"\n";
    return 1;
  }
  const bool tty = isatty(STDOUT_FILENO) != 0;
  auto stub = gwo::v1::ExperimentService::NewStub(c.channel);
  std::map<int64_t, RunView> views;
  int drawn_lines = 0;
  for (;;) {
    gwo::v1::ListRunsRequest req;
    req.set_experiment_id(id);
    gwo::v1::ListRunsResponse resp;
    grpc::Status s = stub->ListRuns(CallContext(c).get(), req, &resp);
    if (!s.ok()) return CallFailed(c, s);
    const absl::Time now = absl::Now();
    bool all_done = true;
    int succeeded = 0;
    Table t({"RUN", "NAME", "STATE", "PROGRESS", "STEP", "STEP/S", "ETA", "LATEST"});
    for (const auto& r : resp.runs()) {
      RunView& v = views[r.id()];
      if (r.state() == gwo::v1::RUN_STATE_RUNNING) v.rate.Observe(now, r.step());
      all_done = all_done && IsTerminalState(r.state());
      succeeded += r.state() == gwo::v1::RUN_STATE_SUCCEEDED;
      t.AddRow({absl::StrCat("run-", r.id()), r.name(), ShortStateName(r.state()),
                ProgressBar(r.step(), r.total_steps()), absl::StrCat(r.step(), "/", r.total_steps()), Rate(v, r),
                Eta(v, r), LatestLoss(r)});
      if (tty) continue;
      // Plain lines: on a state change, or every 10% of progress.
      const bool changed = v.state != r.state();
      const bool progressed = r.total_steps() > 0 && (r.step() - v.printed_step) * 10 >= r.total_steps();
      if (!changed && !progressed) continue;
      v.state = r.state();
      v.printed_step = r.step();
      std::cout << absl::StrFormat("%s  run-%d %s %s %d/%d  step/s %s  eta %s  %s\n",
                                   absl::FormatTime("%H:%M:%S", now, absl::LocalTimeZone()), r.id(), r.name(),
                                   ShortStateName(r.state()), r.step(), r.total_steps(), Rate(v, r), Eta(v, r),
                                   LatestLoss(r));
    }
    const std::string summary = absl::StrCat("exp-", id, ": ", succeeded, "/", resp.runs_size(), " runs succeeded",
                                             all_done ? "" : " so far", "\n");
    if (tty) {
      std::string frame = t.Render() + summary;
      // Move up over the previous frame and clear it, then draw the new one.
      if (drawn_lines > 0) std::cout << "\x1b[" << drawn_lines << "A\x1b[J";
      std::cout << frame;
      drawn_lines = static_cast<int>(std::count(frame.begin(), frame.end(), '\n'));
    } else if (all_done) {
      std::cout << summary;
    }
    std::cout.flush();
    if (all_done) return succeeded == resp.runs_size() ? 0 : 1;
    absl::SleepFor(interval);
  }
}

}  // namespace gwo::client
