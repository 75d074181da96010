// What gwo-train writes under its output folder <out>, and the exit code that tells
// gwo-worker not to try again: the one definition gwo-train, gwo-worker and the
// coordinator all use (none of them links LibTorch for it).
//
//   <out>/run.yaml                        the run spec, as started
//   <out>/metrics.jsonl                   every metric point (common/metric_line.h)
//   <out>/checkpoints/step-<N>.ckpt       training state every checkpoint_every steps
//   <out>/best.ckpt                       the weights at the lowest val_loss so far
//   <out>/final.ckpt                      the weights at the end (absent if stopped)
#ifndef GWO_COMMON_RUN_LAYOUT_H_
#define GWO_COMMON_RUN_LAYOUT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gwo::run_layout {

inline constexpr char kRunSpec[] = "run.yaml";
inline constexpr char kMetrics[] = "metrics.jsonl";
inline constexpr char kCheckpoints[] = "checkpoints";
inline constexpr char kBest[] = "best.ckpt";
inline constexpr char kFinal[] = "final.ckpt";

std::string Metrics(std::string_view out);
std::string CheckpointsDir(std::string_view out);
std::string Best(std::string_view out);
std::string Final(std::string_view out);
// "step-<step>.ckpt", and its path under <out>/checkpoints.
std::string StepCheckpointName(int64_t step);
std::string StepCheckpoint(std::string_view out, int64_t step);
// N of a file name "step-<N>.ckpt" (digits only); nullopt for any other name.
std::optional<int64_t> StepOfCheckpointName(std::string_view file_name);

// gwo-train's exit code for a failure another attempt would repeat (an invalid spec,
// a spec the data or device cannot satisfy, out of memory): gwo-worker reports the
// attempt not retryable. 1 is any other error.
inline constexpr int kExitNotRetryable = 2;

}  // namespace gwo::run_layout

#endif  // GWO_COMMON_RUN_LAYOUT_H_
