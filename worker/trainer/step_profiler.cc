#include "worker/trainer/step_profiler.h"

#include <torch/torch.h>
#include <torch/version.h>

#include <set>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

#if GWO_WITH_CUDA && TORCH_VERSION_MAJOR >= 2 && __has_include(<torch/csrc/autograd/profiler_kineto.h>)
#define GWO_KINETO 1
#include <torch/csrc/autograd/profiler_kineto.h>
#endif

namespace gwo::trainer {

absl::Status ParseProfileSteps(const std::string& text, const std::string& trace_path,
                               ProfileOptions* out) {
  const std::vector<std::string> parts = absl::StrSplit(text, ':');
  int64_t a = 0, b = 0;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &a) || !absl::SimpleAtoi(parts[1], &b) || a < 1 ||
      b < a) {
    return absl::InvalidArgumentError(
        absl::StrCat("--profile_steps expects FIRST:LAST with 1 <= FIRST <= LAST, got '", text, "'"));
  }
  if (trace_path.empty()) return absl::InvalidArgumentError("--profile_steps needs --profile_out");
  *out = ProfileOptions{.first_step = a, .last_step = b, .trace_path = trace_path};
  return absl::OkStatus();
}

absl::Status StepProfiler::BeforeStep(int64_t step) {
  if (options_.first_step == 0 || step != options_.first_step) return absl::OkStatus();
#ifdef GWO_KINETO
  namespace prof = torch::autograd::profiler;
  const torch::profiler::impl::ProfilerConfig config(torch::profiler::impl::ProfilerState::KINETO);
  const std::set<torch::profiler::impl::ActivityType> activities = {
      torch::profiler::impl::ActivityType::CPU, torch::profiler::impl::ActivityType::CUDA};
  prof::prepareProfiler(config, activities);
  prof::enableProfiler(config, activities);
  active_ = true;
  return absl::OkStatus();
#else
  return absl::UnimplementedError("--profile_steps needs a CUDA LibTorch >= 2 with Kineto");
#endif
}

absl::Status StepProfiler::AfterStep(int64_t step) {
  if (!active_ || step != options_.last_step) return absl::OkStatus();
#ifdef GWO_KINETO
  torch::cuda::synchronize();
  std::unique_ptr<torch::autograd::profiler::ProfilerResult> result =
      torch::autograd::profiler::disableProfiler();
  active_ = false;
  if (result == nullptr) return absl::InternalError("the profiler returned no result");
  result->save(options_.trace_path);
#endif
  return absl::OkStatus();
}

}  // namespace gwo::trainer
