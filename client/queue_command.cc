// gwoctl queue: the queued runs, their position, why they wait and an ETA.
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/commands.h"
#include "client/table.h"
#include "gwo/v1/experiments.grpc.pb.h"

namespace gwo::client {
namespace {

std::string Eta(const gwo::v1::QueuedRun& r) {
  if (!r.has_eta()) return "-";
  const int64_t s = static_cast<int64_t>(r.eta_seconds() + 0.5);
  if (s < 60) return absl::StrCat(s, "s");
  if (s < 3600) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrFormat("%dh%02dm", s / 3600, (s % 3600) / 60);
}

}  // namespace

int Queue(const Context& c, const std::string& experiment) {
  gwo::v1::GetQueueRequest req;
  if (!experiment.empty()) {
    const int64_t id = ParseId(experiment, "exp");
    if (id == 0) {
      std::cerr << "gwoctl: expected an experiment id like exp-3, got \"" << experiment << "\"\n";
      return 2;
    }
    req.set_experiment_id(id);
  }
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(absl::ToInt64Milliseconds(c.timeout)));
  gwo::v1::GetQueueResponse resp;
  grpc::Status s = gwo::v1::QueueService::NewStub(c.channel)->GetQueue(&ctx, req, &resp);
  if (!s.ok()) return FailCall(c, s);
  if (resp.runs_size() == 0) {
    std::cout << "no queued runs\n";
    return 0;
  }
  Table t({"POS", "RUN", "NAME", "EXP", "PROJECT", "PRIO", "GPUS", "ETA", "WAITING BECAUSE"});
  for (const auto& r : resp.runs()) {
    t.AddRow({r.position() == 0 ? "-" : absl::StrCat(r.position()), absl::StrCat("run-", r.run_id()), r.name(),
              absl::StrCat("exp-", r.experiment_id()), r.project(), absl::StrCat(r.priority()),
              absl::StrCat(r.gpus()), Eta(r), r.reason()});
  }
  std::cout << t.Render() << "\nETA: " << resp.eta_method() << "\n";
  return 0;
}

}  // namespace gwo::client
