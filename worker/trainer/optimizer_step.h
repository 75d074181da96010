// The end of a training step: gradient zeroing, global-norm clipping and the AdamW
// update, each without a host synchronisation on CUDA (so that a CUDA graph can hold
// them) and the update fused there: LibTorch's multi-tensor `_fused_adamw_` (one
// kernel launch per parameter group over float32 master weights, moments and steps),
// the same arithmetic as torch::optim::AdamW::step, which CPU runs.
#ifndef GWO_WORKER_TRAINER_OPTIMIZER_STEP_H_
#define GWO_WORKER_TRAINER_OPTIMIZER_STEP_H_

#include <torch/optim/adamw.h>
#include <torch/types.h>

#include <vector>

namespace gwo::trainer {

// Zeroes the defined gradients of `params` in place (they keep their storage, as a
// captured graph needs).
void ZeroGradients(const std::vector<torch::Tensor>& params);

// Scales the gradients of `params` so that their global L2 norm is at most max_norm
// (torch.nn.utils.clip_grad_norm_: coefficient min(1, max_norm / (norm + 1e-6))).
// Returns the norm before clipping as a () float32 tensor, without synchronising.
torch::Tensor ClipGradients(const std::vector<torch::Tensor>& params, double max_norm);

// Applies a torch::optim::AdamW's update to its parameters; the optimizer keeps the
// state (moments, per-parameter step counts), so checkpoints save and restore it as
// before (call SyncState() before saving).
class AdamWUpdate {
 public:
  explicit AdamWUpdate(torch::optim::AdamW* optimizer);

  // Whether the fused CUDA update runs: every parameter a CUDA float32 tensor and
  // LibTorch >= 2.2. Otherwise torch::optim::AdamW::step runs.
  bool fused() const { return fused_; }

  // Copies each group's learning rate (its options' lr) to the device tensor the fused
  // update reads. Call after changing them and before Step() or a graph replay; not
  // while capturing.
  void LoadLearningRates();

  // One update of every parameter with a gradient. found_inf: (1,) float32, 1 to skip
  // the update (a float16 overflow), or undefined. Fused: no host synchronisation.
  void Step(const torch::Tensor& found_inf = {});

  // Writes the device step counts of the fused update into the optimizer's state.
  void SyncState();

 private:
  void InitFusedState();

  torch::optim::AdamW* optimizer_;
  bool fused_ = false;
  bool initialised_ = false;
  std::vector<torch::Tensor> lr_;                  // per group: () float32 on the device
  std::vector<std::vector<torch::Tensor>> steps_;  // per group, per parameter: () float32
};

}  // namespace gwo::trainer

#endif  // GWO_WORKER_TRAINER_OPTIMIZER_STEP_H_
