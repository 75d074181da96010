// Runs one attempt of a run as a gwo-train child process and turns what it
// writes into reports: metric points from its events pipe, log lines from its
// stdout/stderr (numbered from 1), and one final AttemptFinished. A crash of the
// child (signal, OOM, CUDA fault) only ends this attempt. An attempt whose
// assignment lists earlier attempts' outputs continues from their newest valid
// checkpoint (resume.h): gwo-train gets --resume-from, AttemptStarted the step, and
// the history up to it is sent as backfill.
#ifndef GWO_WORKER_AGENT_ATTEMPT_RUNNER_H_
#define GWO_WORKER_AGENT_ATTEMPT_RUNNER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/time/time.h"
#include "gwo/v1/workers.pb.h"

namespace gwo::worker {

struct AttemptRunnerOptions {
  std::string trainer_path;          // the gwo-train binary
  std::string attempt_dir;           // created; holds run.yaml, train.log and gwo-train's --out
  absl::Duration stop_grace = absl::Seconds(10);  // SIGTERM -> SIGKILL
  int log_tail_lines = 20;           // lines quoted in the error of a failed attempt
};

// gwo-train exiting with run_layout::kExitNotRetryable (common/run_layout.h: an
// invalid spec, a spec the data or device cannot satisfy, out of memory) is reported
// FAILED and not retryable. Any other failure (another exit code, a signal) is
// reported retryable.

class AttemptRunner {
 public:
  // `send` is called from the runner's thread with each report, in order.
  using SendFn = std::function<void(gwo::v1::WorkerMessage)>;

  AttemptRunner(gwo::v1::AssignAttempt assignment, AttemptRunnerOptions options, SendFn send);
  // Stops the child if it still runs (the attempt then finishes FAILED, retryable:
  // the worker is going away) and joins the thread.
  ~AttemptRunner();

  // Starts the child and the thread that watches it. Failures to start are
  // reported as a FAILED attempt through `send`, not returned.
  void Start();
  // Asks the child to stop: SIGTERM now, SIGKILL after the grace period. The
  // attempt then finishes as CANCELLED.
  void RequestStop(const std::string& reason);
  bool done() const { return done_.load(); }
  int64_t run_id() const { return assignment_.attempt().run_id(); }
  int attempt() const { return assignment_.attempt().attempt(); }

 private:
  void Watch();

  const gwo::v1::AssignAttempt assignment_;
  const AttemptRunnerOptions options_;
  const SendFn send_;
  std::thread thread_;
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> abandoned_{false};  // stopped by the destructor
  std::atomic<bool> done_{false};
};

// Parses one events line of gwo-train ("metric\t<step>\t<name>\t<value>").
// False for anything else.
bool ParseMetricEvent(const std::string& line, gwo::v1::MetricPoint* point);

}  // namespace gwo::worker

#endif  // GWO_WORKER_AGENT_ATTEMPT_RUNNER_H_
