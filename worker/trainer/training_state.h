// What a training-state checkpoint holds besides the weights and the spec: the
// optimizer's moments, the random generators, the data position and the loop's own
// counters, so that a run continued from it computes what the uninterrupted run would
// have (same batches, same dropout masks, same learning rates, same updates).
//
// The bytes are one torch::serialize archive:
//   step, lr, sampler, best_val_loss, last_val_loss, eval_pending, device   (IValues)
//   loss_scale, loss_scale_growth  (IValues; fp16 runs only)
//   optimizer     nested archive of torch::optim::Optimizer::save (AdamW: exp_avg,
//                 exp_avg_sq and step of every parameter, by position in its group)
//   rng_cpu       the default CPU generator's state (uint8 tensor)
//   rng_cuda      the default CUDA generator's state, when the run trained on CUDA
#ifndef GWO_WORKER_TRAINER_TRAINING_STATE_H_
#define GWO_WORKER_TRAINER_TRAINING_STATE_H_

#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace gwo::trainer {

// The training loop's position after a completed step.
struct LoopState {
  int64_t step = 0;     // the last completed optimizer step; the run continues at step + 1
  double lr = 0.0;      // that step's learning rate (the schedule is a function of the step)
  std::string sampler;  // WindowSampler::State() after that step's batch (the data position)
  double best_val_loss = std::numeric_limits<double>::infinity();   // what best.ckpt holds
  double last_val_loss = std::numeric_limits<double>::quiet_NaN();  // of the last evaluation
  bool eval_pending = false;  // the evaluation due at `step` was interrupted: run it first
  std::string device;         // where it trained, e.g. "cpu", "cuda:0"
  // fp16's dynamic loss scale and its count of clean steps (precision.h LossScaler);
  // 0 when the run has none. Absent from checkpoints of other precisions.
  double loss_scale = 0.0;
  int64_t loss_scale_growth = 0;
};

// `loop`, the state of `optimizer` and the default generators of the CPU and, when
// `device` is CUDA, of CUDA, as archive bytes. Throws c10::Error only when LibTorch
// itself fails.
std::string SerializeTrainingState(const LoopState& loop, const torch::optim::Optimizer& optimizer,
                                   const torch::Device& device);

// Restores what SerializeTrainingState saved: the optimizer state (its tensors moved
// to `device`; `optimizer` must have been built over the same parameters in the same
// order, and have no state yet) and the generators, and returns the loop state.
// Generator states are restored last, so call it after building the model (whose
// initialisation draws random numbers). A CUDA generator state is restored only when
// `device` is CUDA. DATA_LOSS when the bytes are unreadable or incomplete; the
// optimizer may then hold part of the state.
absl::StatusOr<LoopState> RestoreTrainingState(std::string_view bytes,
                                               torch::optim::Optimizer& optimizer,
                                               const torch::Device& device);

}  // namespace gwo::trainer

#endif  // GWO_WORKER_TRAINER_TRAINING_STATE_H_
