#include "common/run_layout.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace gwo::run_layout {
namespace {

constexpr std::string_view kStepPrefix = "step-";
constexpr std::string_view kStepSuffix = ".ckpt";

std::string Under(std::string_view out, std::string_view name) {
  return absl::StrCat(absl::string_view(out.data(), out.size()), "/", absl::string_view(name.data(), name.size()));
}

}  // namespace

std::string Metrics(std::string_view out) { return Under(out, kMetrics); }
std::string CheckpointsDir(std::string_view out) { return Under(out, kCheckpoints); }
std::string Best(std::string_view out) { return Under(out, kBest); }
std::string Final(std::string_view out) { return Under(out, kFinal); }

std::string StepCheckpointName(int64_t step) { return absl::StrCat("step-", step, ".ckpt"); }

std::string StepCheckpoint(std::string_view out, int64_t step) {
  return Under(CheckpointsDir(out), StepCheckpointName(step));
}

std::optional<int64_t> StepOfCheckpointName(std::string_view name) {
  if (!name.starts_with(kStepPrefix) || !name.ends_with(kStepSuffix)) return std::nullopt;
  name.remove_prefix(kStepPrefix.size());
  name.remove_suffix(kStepSuffix.size());
  if (name.empty() || !std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  int64_t step = 0;
  if (!absl::SimpleAtoi(absl::string_view(name.data(), name.size()), &step)) return std::nullopt;
  return step;
}

}  // namespace gwo::run_layout
