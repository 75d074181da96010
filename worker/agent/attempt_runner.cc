#include "worker/agent/attempt_runner.h"

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <optional>

#include "common/run_layout.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/metric_line.h"
#include "common/subprocess.h"
#include "worker/agent/resume.h"
#include "worker/trainer/file_io.h"

namespace gwo::worker {
namespace {

// Hard-links `checkpoint` (<out>/checkpoints/step-N.ckpt) to <pin_dir>/checkpoints/ and
// the best.ckpt of its <out> to <pin_dir>/best.ckpt (copies where links fail), so
// gwo-train sees the same layout. Returns the pinned checkpoint's path, or "" when
// the checkpoint no longer exists.
std::string PinCheckpoint(const std::string& checkpoint, const std::string& pin_dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path source(checkpoint);
  const fs::path target = fs::path(pin_dir) / run_layout::kCheckpoints / source.filename();
  fs::create_directories(target.parent_path(), ec);
  fs::remove(target, ec);
  fs::create_hard_link(source, target, ec);
  if (ec) {
    ec.clear();
    fs::copy_file(source, target, fs::copy_options::overwrite_existing, ec);
    if (ec) return "";
  }
  const fs::path best = source.parent_path().parent_path() / run_layout::kBest;
  const fs::path best_target = fs::path(pin_dir) / run_layout::kBest;
  fs::remove(best_target, ec);
  ec.clear();
  fs::create_hard_link(best, best_target, ec);
  if (ec) {
    ec.clear();
    fs::copy_file(best, best_target, fs::copy_options::overwrite_existing, ec);  // optional
  }
  return target.string();
}


constexpr int kEventsFd = 3;
constexpr size_t kMaxPointsPerReport = 500;
constexpr absl::Duration kFlushInterval = absl::Milliseconds(500);

// Splits a byte stream into lines.
class LineBuffer {
 public:
  template <typename F>
  void Append(const char* data, size_t n, F&& on_line) {
    buf_.append(data, n);
    size_t start = 0;
    for (size_t nl; (nl = buf_.find('\n', start)) != std::string::npos; start = nl + 1) {
      on_line(buf_.substr(start, nl - start));
    }
    buf_.erase(0, start);
  }
  template <typename F>
  void Flush(F&& on_line) {
    if (!buf_.empty()) on_line(buf_);
    buf_.clear();
  }

 private:
  std::string buf_;
};

// Reads what is available on a non-blocking fd. False at end of file.
template <typename F>
bool Drain(int fd, F&& on_bytes) {
  char buf[8192];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n > 0) {
      on_bytes(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) return false;
    return errno == EAGAIN || errno == EINTR;
  }
}

}  // namespace

bool ParseMetricEvent(const std::string& line, gwo::v1::MetricPoint* point) {
  std::optional<MetricLine> m = ParseMetricEventLine(line);
  if (!m.has_value()) return false;
  point->set_step(m->step);
  point->set_name(m->name);
  point->set_value(m->value);
  return true;
}

AttemptRunner::AttemptRunner(gwo::v1::AssignAttempt assignment, AttemptRunnerOptions options, SendFn send)
    : assignment_(std::move(assignment)), options_(std::move(options)), send_(std::move(send)) {}

AttemptRunner::~AttemptRunner() {
  abandoned_ = true;
  RequestStop("worker shutting down");
  if (thread_.joinable()) thread_.join();
}

void AttemptRunner::Start() { thread_ = std::thread([this] { Watch(); }); }

void AttemptRunner::RequestStop(const std::string& reason) {
  (void)reason;
  stop_requested_ = true;
}

void AttemptRunner::Watch() {
  const gwo::v1::AttemptRef ref = assignment_.attempt();
  auto finish = [&](gwo::v1::RunState state, std::string error, bool retryable = false) {
    gwo::v1::WorkerMessage m;
    *m.mutable_finished()->mutable_attempt() = ref;
    m.mutable_finished()->set_state(state);
    m.mutable_finished()->set_error(std::move(error));
    m.mutable_finished()->set_retryable(retryable);
    send_(std::move(m));
    done_ = true;
  };

  std::error_code ec;
  std::filesystem::create_directories(options_.attempt_dir, ec);
  const std::string spec_path = options_.attempt_dir + "/run.yaml";
  {
    std::ofstream spec(spec_path, std::ios::trunc);
    spec << assignment_.run_spec_yaml();
    if (ec || !spec.good()) {
      finish(gwo::v1::RUN_STATE_FAILED, absl::StrCat("cannot write ", spec_path, ": ", ec.message()));
      return;
    }
  }
  const std::string out_dir = options_.attempt_dir + "/out";

  gwo::v1::WorkerMessage metrics;
  *metrics.mutable_metrics()->mutable_attempt() = ref;
  gwo::v1::WorkerMessage logs;
  *logs.mutable_logs()->mutable_attempt() = ref;
  int64_t next_line = 1;  // number of the next log line of this attempt
  std::deque<std::string> tail;
  // The log also stays on the worker's disk beside the attempt's outputs.
  std::ofstream log_file(options_.attempt_dir + "/train.log", std::ios::app);
  auto on_log_line = [&](const std::string& line) {
    if (logs.logs().lines_size() == 0) logs.mutable_logs()->set_first_line(next_line);
    ++next_line;
    logs.mutable_logs()->add_lines(line);
    log_file << line << '\n';
    tail.push_back(line);
    if (static_cast<int>(tail.size()) > options_.log_tail_lines) tail.pop_front();
  };

  // A restarted run continues from the newest valid checkpoint of its earlier
  // attempts, taking their metric history up to it along.
  const std::vector<std::string> earlier(assignment_.resume_dirs().begin(), assignment_.resume_dirs().end());
  ResumeChoice resume;
  std::string resume_from;
  // The chosen checkpoint is pinned (linked under this attempt's directory) before
  // gwo-train starts: a cut-off earlier attempt may still be running and rotate it
  // away. If it vanished between choosing and pinning, choose again.
  for (int tries = 0; tries < 3; ++tries) {
    resume = ChooseResume(assignment_.run_spec_yaml(), earlier);
    for (const std::string& line : resume.log) on_log_line(absl::StrCat("gwo-worker: ", line));
    if (resume.checkpoint.empty()) break;
    resume_from = PinCheckpoint(resume.checkpoint, options_.attempt_dir + "/resume");
    if (!resume_from.empty()) break;
    on_log_line(absl::StrCat("gwo-worker: ", resume.checkpoint, " vanished before it could be pinned; choosing again"));
    resume = ResumeChoice();
  }
  SpawnOptions spawn;
  spawn.argv = {options_.trainer_path, "--spec", spec_path, "--out", out_dir,
                "--events-fd", std::to_string(kEventsFd)};
  if (!resume.checkpoint.empty()) {
    std::filesystem::create_directories(out_dir, ec);
    absl::Status s = trainer::WriteFileAtomically(run_layout::Metrics(out_dir), resume.history_jsonl);
    if (!s.ok()) on_log_line(absl::StrCat("gwo-worker: cannot carry the metric history over: ", s.message()));
    spawn.argv.push_back("--resume-from");
    spawn.argv.push_back(resume_from);
  }
  spawn.capture_output = true;
  spawn.events_fd_in_child = kEventsFd;
  // The GPUs the coordinator gave this attempt (all of a multi-GPU run's), numbered as
  // nvidia-smi numbers them when the worker listed its devices: CUDA's own default
  // order (fastest first) could hand the trainer another GPU.
  spawn.extra_env.push_back("CUDA_DEVICE_ORDER=PCI_BUS_ID");
  if (assignment_.gpus_size() > 0) {
    spawn.extra_env.push_back(absl::StrCat("CUDA_VISIBLE_DEVICES=", absl::StrJoin(assignment_.gpus(), ",")));
  }
  absl::StatusOr<Subprocess> child = Subprocess::Spawn(spawn);
  if (!child.ok()) {
    finish(gwo::v1::RUN_STATE_FAILED, absl::StrCat("cannot start gwo-train: ", child.status().message()));
    return;
  }
  {
    gwo::v1::WorkerMessage m;
    *m.mutable_started()->mutable_attempt() = ref;
    m.mutable_started()->set_output_dir(out_dir);
    m.mutable_started()->set_resumed_from_step(resume.step);
    send_(std::move(m));
  }
  // The history up to the checkpoint, for the points its attempt never delivered.
  for (size_t i = 0; i < resume.history.size(); i += kMaxPointsPerReport) {
    gwo::v1::WorkerMessage m;
    *m.mutable_metrics()->mutable_attempt() = ref;
    m.mutable_metrics()->set_backfill(true);
    for (size_t j = i; j < std::min(resume.history.size(), i + kMaxPointsPerReport); ++j) {
      *m.mutable_metrics()->add_points() = resume.history[j];
    }
    send_(std::move(m));
  }
  absl::Time last_flush = absl::Now();
  auto flush = [&] {
    if (metrics.metrics().points_size() > 0) {
      send_(metrics);
      metrics.mutable_metrics()->clear_points();
    }
    if (logs.logs().lines_size() > 0) {
      send_(logs);
      logs.mutable_logs()->clear_lines();
    }
    log_file.flush();
    last_flush = absl::Now();
  };
  auto on_event_line = [&](const std::string& line) {
    gwo::v1::MetricPoint p;
    if (ParseMetricEvent(line, &p)) {
      *metrics.mutable_metrics()->add_points() = p;
      if (metrics.metrics().points_size() >= static_cast<int>(kMaxPointsPerReport)) flush();
    }
  };

  LineBuffer out_lines, event_lines;
  bool out_open = true, events_open = true;
  bool term_sent = false;
  absl::Time kill_at = absl::InfiniteFuture();
  while (out_open || events_open) {
    if (stop_requested_ && !term_sent) {
      child->Signal(SIGTERM);
      term_sent = true;
      kill_at = absl::Now() + options_.stop_grace;
    }
    if (absl::Now() >= kill_at) {
      child->Signal(SIGKILL);
      kill_at = absl::InfiniteFuture();
    }
    pollfd fds[2] = {{out_open ? child->output_fd() : -1, POLLIN, 0},
                     {events_open ? child->events_fd() : -1, POLLIN, 0}};
    poll(fds, 2, 100);
    if (out_open && fds[0].revents != 0) {
      out_open = Drain(child->output_fd(), [&](const char* d, size_t n) { out_lines.Append(d, n, on_log_line); });
    }
    if (events_open && fds[1].revents != 0) {
      events_open =
          Drain(child->events_fd(), [&](const char* d, size_t n) { event_lines.Append(d, n, on_event_line); });
    }
    if (absl::Now() - last_flush >= kFlushInterval) flush();
  }
  out_lines.Flush(on_log_line);
  event_lines.Flush(on_event_line);
  // Grandchildren may hold the pipes open after gwo-train exits; they are gone
  // once both pipes reach end of file, so Wait does not hang here.
  ExitStatus status = child->Wait();
  flush();

  if (abandoned_) {
    // Not the run's fault: another attempt continues it.
    finish(gwo::v1::RUN_STATE_FAILED, "the worker shut down during the attempt", /*retryable=*/true);
  } else if (stop_requested_) {
    finish(gwo::v1::RUN_STATE_CANCELLED, "");
  } else if (status.ok()) {
    finish(gwo::v1::RUN_STATE_SUCCEEDED, "");
  } else {
    std::vector<std::string> lines(tail.begin(), tail.end());
    const bool retryable = status.exit_code != run_layout::kExitNotRetryable;
    finish(gwo::v1::RUN_STATE_FAILED,
           absl::StrCat("gwo-train ended with ", status.ToString(), retryable ? "" : " (not retryable)",
                        "; last log lines:\n", absl::StrJoin(lines, "\n")),
           retryable);
  }
}

}  // namespace gwo::worker
