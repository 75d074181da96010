// One model under training with its optimizer and parameter selection: the run's own
// model, or the one trained beside it (training.side_by_side) on the same batches.
#ifndef GWO_WORKER_TRAINER_LEARNER_H_
#define GWO_WORKER_TRAINER_LEARNER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "spec/run_spec.h"
#include "worker/models/model.h"
#include "worker/trainer/natural_optimizer.h"
#include "worker/trainer/trainable.h"

namespace gwo::trainer {

// The terms of one step's loss (scalar tensors; undefined when the term is off).
struct StepLoss {
  torch::Tensor total;    // lm_weight * lm + distill.weight * distill
  torch::Tensor lm;       // next-token cross-entropy
  torch::Tensor distill;  // DistillationLoss against the teacher
};

struct Learner {
  std::string prefix;  // prepended to metric names ("" for the run's model)
  spec::OptimizerSpec optimizer_spec;
  std::shared_ptr<models::CausalLm> model;
  TrainableSetup trainable;
  LayeredAdamW adamw;                // one group per (layer, decays) for natural; MakeAdamW's two otherwise
  std::vector<double> layer_scales;  // natural: f_l of the last step (empty for adamw)

  // One optimizer step on inputs x, targets y (B, T) at learning rate `lr`:
  // forward (capturing the scores when the optimizer is natural), the loss of
  // training's lm_weight and distill (teacher_logits (B, T, V), or undefined for none),
  // backward, gradient clipping, the update, then the frozen rows put back. With
  // training.micro_batch_size M < B, forward and backward run on M rows at a time and
  // the gradients accumulate to the whole batch's; the returned terms are the batch's.
  StepLoss Step(const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& teacher_logits,
                const spec::TrainingSpec& training, double lr);
};

// A learner over `model` (weights loaded, on its device): applies
// training.trainable, then builds the optimizer `optimizer` names. Errors: those of
// ApplyTrainable.
absl::StatusOr<std::unique_ptr<Learner>> MakeLearner(std::shared_ptr<models::CausalLm> model,
                                                     const spec::TrainingSpec& training,
                                                     const spec::OptimizerSpec& optimizer,
                                                     std::string prefix);

}  // namespace gwo::trainer

#endif  // GWO_WORKER_TRAINER_LEARNER_H_
