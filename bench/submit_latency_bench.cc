// Submit-to-start latency with an idle worker: submits one one-run experiment at a
// time over gRPC and measures until the worker has reported the attempt's process
// started (the run's output_dir is set: gwo-worker spawned gwo-train and said so),
// polling GetRun every millisecond; waits for the run to end before the next one so
// the worker is idle at every submit. Prints median and p99 (nearest rank).
//
//   gwo-submit-latency-bench --coordinator HOST:PORT --job FILE [--samples 50]
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/flags.h"
#include "common/client_config.h"
#include "common/tls.h"
#include "grpcpp/grpcpp.h"
#include "gwo/v1/experiments.grpc.pb.h"

ABSL_FLAG(std::string, coordinator, "127.0.0.1:7070", "coordinator address");
ABSL_FLAG(std::string, job, "", "job.yaml with one run");
ABSL_FLAG(int, samples, 50, "submissions");

namespace {

template <typename Fn>
grpc::Status Call(Fn fn) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  return fn(&ctx);
}

}  // namespace

int main(int argc, char** argv) {
  gwo::ParseFlags(argc, argv);
  std::ifstream in(absl::GetFlag(FLAGS_job));
  std::stringstream job;
  job << in.rdbuf();
  if (job.str().empty()) {
    std::cerr << "gwo-submit-latency-bench: --job FILE is required and must not be empty\n";
    return 2;
  }
  // The token of the coordinator's first start (GWO_CONFIG), or $GWO_TOKEN.
  const gwo::ClientConfig config = gwo::LoadClientConfig(gwo::ClientConfigPath()).value_or(gwo::ClientConfig{});
  auto stub = gwo::v1::ExperimentService::NewStub(
      gwo::MakeCoordinatorChannel(absl::GetFlag(FLAGS_coordinator), grpc::InsecureChannelCredentials(),
                                  gwo::UserTokenFor(config, absl::GetFlag(FLAGS_coordinator))));
  std::vector<double> ms;
  for (int i = 0; i < absl::GetFlag(FLAGS_samples); ++i) {
    gwo::v1::SubmitExperimentRequest req;
    req.set_spec_yaml(job.str());
    req.set_idempotency_key(absl::StrCat("latency-", getpid(), "-", i));
    gwo::v1::SubmitExperimentResponse resp;
    const absl::Time t0 = absl::Now();
    grpc::Status s = Call([&](grpc::ClientContext* c) { return stub->SubmitExperiment(c, req, &resp); });
    if (!s.ok() || resp.runs_size() != 1) {
      std::cerr << "submit failed: " << s.error_message() << "\n";
      return 1;
    }
    gwo::v1::GetRunRequest get;
    get.set_run_id(resp.runs(0).id());
    gwo::v1::GetRunResponse run;
    bool started = false;
    for (;;) {
      s = Call([&](grpc::ClientContext* c) { return stub->GetRun(c, get, &run); });
      if (!s.ok()) {
        std::cerr << "GetRun failed: " << s.error_message() << "\n";
        return 1;
      }
      if (!started && !run.run().output_dir().empty()) {
        ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
        started = true;
      }
      const auto state = run.run().state();
      if (state == gwo::v1::RUN_STATE_SUCCEEDED || state == gwo::v1::RUN_STATE_FAILED ||
          state == gwo::v1::RUN_STATE_CANCELLED) {
        break;
      }
      usleep(started ? 20000 : 1000);
    }
    if (!started) {
      std::cerr << "run " << get.run_id() << " ended " << gwo::v1::RunState_Name(run.run().state())
                << " without reporting a start: " << run.run().error() << "\n";
      return 1;
    }
  }
  std::sort(ms.begin(), ms.end());
  auto rank = [&](double q) {  // nearest rank
    const size_t r = static_cast<size_t>(std::ceil(q * ms.size()));
    return ms[std::min(ms.size(), std::max<size_t>(r, 1)) - 1];
  };
  std::cout << absl::StrFormat("submit-to-start latency over %d runs (idle worker): median %.1f ms, p99 %.1f ms, "
                               "min %.1f ms, max %.1f ms\n",
                               ms.size(), rank(0.5), rank(0.99), ms.front(), ms.back());
  return 0;
}
