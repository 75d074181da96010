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
#include "worker/trainer/optimizer_step.h"
#include "worker/trainer/precision.h"
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
  Precision precision = Precision::kFp32;  // training.precision on the model's device
  LossScaler scaler;                       // fp16's dynamic loss scale (inactive otherwise)
  std::unique_ptr<AdamWUpdate> update;     // adamw's update, fused on CUDA
  std::vector<torch::Tensor> params;       // the trainable parameters
  // Whether Forward's autocast keeps its cache of casted weights; off while a CUDA
  // graph captures the step (step_graph.h).
  bool autocast_cache = true;

  // One optimizer step on inputs x, targets y (B, T) at learning rate `lr`:
  // Forward (capturing the scores when the optimizer is natural), the learning rates,
  // then Finish(). Runs eagerly; StepGraph (step_graph.h) replays the same work.
  StepLoss Step(const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& teacher_logits,
                const spec::TrainingSpec& training, double lr);

  // The forward and backward passes of a step: zeroes the gradients, then, in passes of
  // training.micro_batch_size rows (all B when 0), the model forward under `precision`,
  // the loss of training's lm_weight (through LmHeadLoss, without full logits unless
  // distillation needs them) and distill (teacher_logits (B, T, V), or undefined for
  // none), and backward of the (loss-scaled) loss weighted by the pass's share of the
  // rows, so the accumulated gradients are the whole batch's; the returned terms are the
  // batch's. Natural: also sets layer_scales from the captured energies.
  StepLoss Forward(const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& teacher_logits,
                   const spec::TrainingSpec& training);

  // The rest of the step after the learning rates are set (update->LoadLearningRates()):
  // unscales fp16 gradients, clips to training.grad_clip, applies the update (skipped
  // after an fp16 overflow), adjusts the loss scale and puts frozen rows back.
  void Finish(const spec::TrainingSpec& training);
};

// A learner over `model` (weights loaded, on its device): applies
// training.trainable, resolves training.precision for the model's device, then builds
// the optimizer `optimizer` names. Errors: those of ApplyTrainable and ResolvePrecision.
absl::StatusOr<std::unique_ptr<Learner>> MakeLearner(std::shared_ptr<models::CausalLm> model,
                                                     const spec::TrainingSpec& training,
                                                     const spec::OptimizerSpec& optimizer,
                                                     std::string prefix);

}  // namespace gwo::trainer

#endif  // GWO_WORKER_TRAINER_LEARNER_H_
