// gwo-train --profile_steps=A:B: LibTorch's Kineto profiler (CPU ops and CUDA kernels)
// around training steps A..B, written as a Chrome trace (chrome://tracing, Perfetto;
// bench/train/top_kernels.py turns it into the top-kernels table).
#ifndef GWO_WORKER_TRAINER_STEP_PROFILER_H_
#define GWO_WORKER_TRAINER_STEP_PROFILER_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace gwo::trainer {

struct ProfileOptions {
  int64_t first_step = 0;  // 0: no profiling
  int64_t last_step = 0;
  std::string trace_path;  // the Chrome trace JSON
};

// Parses "A:B" (1 <= A <= B) into options writing to `trace_path`.
// INVALID_ARGUMENT otherwise.
absl::Status ParseProfileSteps(const std::string& text, const std::string& trace_path,
                               ProfileOptions* out);

// Starts the profiler before step `step` when it is options.first_step; stops it and
// writes the trace after options.last_step. UNIMPLEMENTED where LibTorch has no Kineto
// (Debian's CPU build); INTERNAL when the trace cannot be written.
class StepProfiler {
 public:
  explicit StepProfiler(ProfileOptions options) : options_(std::move(options)) {}
  absl::Status BeforeStep(int64_t step);
  absl::Status AfterStep(int64_t step);
  bool active() const { return active_; }

 private:
  ProfileOptions options_;
  bool active_ = false;
};

}  // namespace gwo::trainer

#endif  // GWO_WORKER_TRAINER_STEP_PROFILER_H_
