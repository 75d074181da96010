#include "worker/trainer/learner.h"

#include <torch/torch.h>

#include <utility>

#include "worker/trainer/metric_functions.h"
#include "worker/trainer/optimization.h"

namespace gwo::trainer {

absl::StatusOr<std::unique_ptr<Learner>> MakeLearner(std::shared_ptr<models::CausalLm> model,
                                                     const spec::TrainingSpec& training,
                                                     const spec::OptimizerSpec& optimizer,
                                                     std::string prefix) {
  absl::StatusOr<TrainableSetup> setup = ApplyTrainable(*model, training.trainable);
  if (!setup.ok()) return setup.status();
  auto learner = std::make_unique<Learner>();
  learner->prefix = std::move(prefix);
  learner->optimizer_spec = optimizer;
  learner->model = std::move(model);
  learner->trainable = *std::move(setup);
  if (optimizer.name == "natural") {
    learner->adamw = MakeLayeredAdamW(*learner->model, training);
  } else {
    learner->adamw.optimizer = MakeAdamW(*learner->model, training);
    learner->adamw.group_layer.assign(learner->adamw.optimizer->param_groups().size(), -1);
  }
  return learner;
}

StepLoss Learner::Step(const torch::Tensor& x, const torch::Tensor& y,
                       const torch::Tensor& teacher_logits, const spec::TrainingSpec& training,
                       double lr) {
  const bool natural = optimizer_spec.name == "natural";
  const auto attentions = model->attentions();
  if (natural) {
    for (const auto& a : attentions) a->set_capture(true);
  }
  const torch::Tensor logits = model->forward(x);  // (B, T, V)
  StepLoss loss;
  if (training.lm_weight > 0) {
    loss.lm = LanguageModelLoss(logits, y);
    loss.total = loss.lm * training.lm_weight;
  }
  if (teacher_logits.defined() && training.distill.weight > 0) {
    loss.distill = DistillationLoss(logits, teacher_logits, training.distill.temperature);
    const torch::Tensor term = loss.distill * training.distill.weight;
    loss.total = loss.total.defined() ? loss.total + term : term;
  }
  if (natural) {
    std::vector<torch::Tensor> scores;
    for (const auto& a : attentions) {
      scores.push_back(a->captured().scores);
      a->set_capture(false);
    }
    layer_scales = NaturalScales(AttentionEnergies(scores), optimizer_spec);
  }
  SetLayerLearningRates(adamw, lr, layer_scales);
  adamw.optimizer->zero_grad();
  loss.total.backward();
  if (training.grad_clip > 0) {
    torch::nn::utils::clip_grad_norm_(model->parameters(), training.grad_clip);
  }
  adamw.optimizer->step();
  trainable.Restore();
  return loss;
}

}  // namespace gwo::trainer
