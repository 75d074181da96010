// training.precision: what arithmetic a run's forward and backward use, and the pieces
// that make it so: the autocast scope around a forward, the TF32 switch, and the
// dynamic loss scale of float16. Master weights and optimizer state stay float32.
#ifndef GWO_WORKER_TRAINER_PRECISION_H_
#define GWO_WORKER_TRAINER_PRECISION_H_

#include <torch/types.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace gwo::trainer {

enum class Precision {
  kFp32,  // float32 everywhere, TF32 off
  kTf32,  // float32 storage, TensorFloat-32 matmuls (CUDA)
  kBf16,  // autocast to bfloat16 (matmuls, attention); float32 reductions
  kFp16,  // autocast to float16 with a dynamic loss scale (CUDA)
};

// "fp32", "tf32", "bf16", "fp16".
std::string_view PrecisionName(Precision p);

// training.precision resolved for `device`: "auto" is bf16 on CUDA, fp32 on CPU.
// INVALID_ARGUMENT when the device cannot run it (fp16 and tf32 need CUDA; bf16 runs on
// both, through autocast) or the name is unknown.
absl::StatusOr<Precision> ResolvePrecision(const std::string& name, const torch::Device& device);

// The dtype autocast casts matmuls to (bf16/fp16), or float32 for fp32/tf32.
torch::Dtype ComputeDtype(Precision p);

// Sets LibTorch's global float32-matmul mode for `p`: TF32 allowed for tf32, bf16 and
// fp16 (for the few float32 matmuls outside autocast, as a PyTorch user sets
// allow_tf32), exact float32 for fp32. Call once at the start of training.
void ConfigureMatmul(Precision p);

// While alive, ops on `device` run under autocast to ComputeDtype(p) (nothing for
// fp32/tf32). Nests. `cache`: keep autocast's cache of casted weights for the scope
// (off while capturing a CUDA graph, which must not reuse tensors of another pool).
class AutocastScope {
 public:
  AutocastScope(Precision p, const torch::Device& device, bool cache = true);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool active_ = false;
  bool cuda_ = false;
  bool previous_enabled_ = false;
  bool previous_cache_ = true;
  torch::Dtype previous_dtype_ = torch::kFloat;
};

// The dynamic loss scale of float16 training (as PyTorch's GradScaler): the loss is
// multiplied by `scale` before backward; Unscale divides the gradients back and
// records whether any is inf/NaN; Update halves the scale after such a step and
// doubles it after `growth_interval` clean steps. All on the device, no host sync,
// so it can live inside a captured CUDA graph. Inactive (scale 1, nothing done) for
// other precisions.
class LossScaler {
 public:
  LossScaler() = default;
  LossScaler(Precision p, const torch::Device& device, double init_scale = 65536.0,
             int64_t growth_interval = 2000);

  bool active() const { return active_; }
  // loss * scale (loss itself when inactive).
  torch::Tensor Scale(const torch::Tensor& loss) const;
  // Divides every defined gradient by the scale and sets found_inf() to 1 if any
  // was not finite (0 otherwise). No-op when inactive.
  void Unscale(const std::vector<torch::Tensor>& grads);
  // Adjusts the scale after the step (see above). No-op when inactive.
  void Update();
  // (1,) float32 on the device: 1 when the last Unscale saw a non-finite gradient;
  // undefined when inactive. The optimizer skips its update when it is 1.
  const torch::Tensor& found_inf() const { return found_inf_; }
  // (1,) float32: the current scale; undefined when inactive.
  const torch::Tensor& scale() const { return scale_; }
  // The scale and the count of clean steps since it last changed, for checkpoints
  // (synchronises with the device); {0, 0} when inactive.
  std::pair<double, int64_t> State() const;
  // Sets what State() returned (a resumed run). No-op when inactive or scale <= 0.
  void Restore(double scale, int64_t growth);

 private:
  bool active_ = false;
  int64_t growth_interval_ = 2000;
  torch::Tensor scale_, growth_tracker_, found_inf_;
};

}  // namespace gwo::trainer

#endif  // GWO_WORKER_TRAINER_PRECISION_H_
