// gwo-train: trains one run spec. Used standalone and by gwo-worker, which passes
// --events-fd to receive metric events and reads stdout/stderr as the run's log.
// Exit codes: 0 done; 2 error that another attempt cannot fix (an invalid spec, a
// spec the data or device cannot satisfy, a checkpoint of another spec, out of
// memory; message on stderr): gwo-worker then fails the run at once; 1 any other
// error (I/O, a LibTorch failure: worth another attempt); 143 stopped by
// SIGTERM/SIGINT (after writing a training-state checkpoint when
// training.checkpoint_every > 0).
// Rerun with the same --spec and --out, it continues from the newest valid checkpoint.
#include <cstdio>
#include <string>
#include <vector>

#include "common/run_layout.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "common/flags.h"
#include "spec/parse.h"
#include "worker/trainer/file_io.h"
#include "worker/trainer/serve.h"
#include "worker/trainer/stop_signal.h"
#include "worker/trainer/step_profiler.h"
#include "worker/trainer/train.h"

ABSL_FLAG(std::string, spec, "", "run spec YAML file (required)");
ABSL_FLAG(std::string, out, "", "output directory, created if missing (required)");
ABSL_FLAG(int, events_fd, -1, "file descriptor for metric event lines; -1: none");
ABSL_FLAG(bool, resume, true,
          "continue from the newest valid checkpoint in <out>/checkpoints when there is one "
          "(its run spec must match --spec); false: start over, deleting those checkpoints");
ABSL_FLAG(std::string, resume_from, "",
          "continue from this training-state checkpoint file instead (e.g. one of a previous "
          "attempt's --out); its run spec must match --spec");

ABSL_FLAG(std::string, profile_steps, "",
          "FIRST:LAST: record training steps FIRST..LAST with LibTorch's profiler (CUDA builds)");
ABSL_FLAG(std::string, profile_out, "", "--profile_steps: the Chrome trace file to write");
ABSL_FLAG(bool, serve, false,
          "serve text generation on stdin/stdout instead of training (the line protocol of "
          "worker/generate/protocol.h); --spec and --out are not used");
ABSL_FLAG(std::string, serve_device, "auto", "--serve: auto (cuda when present), cpu or cuda");
ABSL_FLAG(int, serve_max_batch, 32, "--serve: requests decoded together per model");
ABSL_FLAG(int, serve_idle_seconds, 600, "--serve: unload a model unused this long");
ABSL_FLAG(int, serve_threads, 0, "--serve: CPU threads of LibTorch; 0: library default");

namespace {

constexpr int kExitStopped = 143;  // 128 + SIGTERM, as if the signal had killed us
constexpr int kExitError = 1;
using gwo::run_layout::kExitNotRetryable;

// Whether running the same spec again cannot end differently.
bool NotRetryable(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kResourceExhausted:
      return true;
    default:
      // RunTraining reports LibTorch's exceptions as INTERNAL with their text; out of
      // memory at this size fails the same way on the same device.
      return absl::StrContains(status.message(), "out of memory");
  }
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "gwo-train: error: %s\n", std::string(status.message()).c_str());
  return NotRetryable(status) ? kExitNotRetryable : kExitError;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "gwo-train --spec run.yaml --out DIR [--events-fd N] [--resume=false | --resume-from CKPT]\n"
      "       gwo-train --serve [--serve-device D]");
  gwo::ParseFlags(argc, argv);  // accepts --events-fd as well as --events_fd
  if (absl::GetFlag(FLAGS_serve)) {
    const gwo::trainer::ServeOptions serve{
        .device = absl::GetFlag(FLAGS_serve_device),
        .max_batch = absl::GetFlag(FLAGS_serve_max_batch),
        .idle_timeout = absl::Seconds(absl::GetFlag(FLAGS_serve_idle_seconds)),
        .threads = absl::GetFlag(FLAGS_serve_threads)};
    if (absl::Status s = gwo::trainer::Serve(serve, stdin, stdout); !s.ok()) return Fail(s);
    return 0;
  }
  const std::string spec_path = absl::GetFlag(FLAGS_spec);
  const std::string out_dir = absl::GetFlag(FLAGS_out);
  if (spec_path.empty() || out_dir.empty()) {
    return Fail(absl::InvalidArgumentError("--spec and --out are required"));
  }
  const std::atomic<bool>& stop = gwo::trainer::InstallStopHandlers();

  absl::StatusOr<std::string> text = gwo::trainer::ReadFileToString(spec_path);
  if (!text.ok()) return Fail(text.status());
  absl::StatusOr<gwo::spec::RunSpec> spec = gwo::spec::ParseRunSpec(*text, spec_path);
  if (!spec.ok()) return Fail(spec.status());

  if (!absl::GetFlag(FLAGS_resume) && !absl::GetFlag(FLAGS_resume_from).empty()) {
    return Fail(absl::InvalidArgumentError("--resume-from contradicts --resume=false"));
  }
  gwo::trainer::TrainOptions options{.out_dir = out_dir,
                                     .events_fd = absl::GetFlag(FLAGS_events_fd),
                                     .stop = &stop,
                                     .resume = absl::GetFlag(FLAGS_resume),
                                     .resume_from = absl::GetFlag(FLAGS_resume_from)};
  if (!absl::GetFlag(FLAGS_profile_steps).empty()) {
    if (absl::Status s = gwo::trainer::ParseProfileSteps(absl::GetFlag(FLAGS_profile_steps),
                                                         absl::GetFlag(FLAGS_profile_out), &options.profile);
        !s.ok()) {
      return Fail(s);
    }
  }
  absl::StatusOr<gwo::trainer::TrainResult> result = gwo::trainer::RunTraining(*spec, options);
  if (!result.ok()) return Fail(result.status());
  if (result->stopped) {
    std::fprintf(stderr, "gwo-train: stopped by signal after step %lld\n",
                 static_cast<long long>(result->steps_done));
    return kExitStopped;
  }
  std::printf("final val_loss %.6f val_ppl %.6f\n", result->val_loss, result->val_ppl);
  std::fflush(stdout);
  return 0;
}
