#include "worker/trainer/learner.h"

#include <torch/torch.h>

#include <utility>

#include "worker/trainer/lm_head_loss.h"
#include "worker/trainer/metric_functions.h"
#include "worker/trainer/optimization.h"

namespace gwo::trainer {

absl::StatusOr<std::unique_ptr<Learner>> MakeLearner(std::shared_ptr<models::CausalLm> model,
                                                     const spec::TrainingSpec& training,
                                                     const spec::OptimizerSpec& optimizer,
                                                     std::string prefix) {
  const torch::Device device = model->parameters().empty() ? torch::Device(torch::kCPU)
                                                           : model->parameters().front().device();
  absl::StatusOr<Precision> precision = ResolvePrecision(training.precision, device);
  if (!precision.ok()) return precision.status();
  absl::StatusOr<TrainableSetup> setup = ApplyTrainable(*model, training.trainable);
  if (!setup.ok()) return setup.status();
  auto learner = std::make_unique<Learner>();
  learner->prefix = std::move(prefix);
  learner->optimizer_spec = optimizer;
  learner->model = std::move(model);
  learner->trainable = *std::move(setup);
  learner->precision = *precision;
  learner->scaler = LossScaler(*precision, device);
  if (optimizer.name == "natural") {
    learner->adamw = MakeLayeredAdamW(*learner->model, training);
  } else {
    learner->adamw.optimizer = MakeAdamW(*learner->model, training);
    learner->adamw.group_layer.assign(learner->adamw.optimizer->param_groups().size(), -1);
  }
  learner->update = std::make_unique<AdamWUpdate>(learner->adamw.optimizer.get());
  for (const auto& group : learner->adamw.optimizer->param_groups()) {
    for (const torch::Tensor& p : group.params()) learner->params.push_back(p);
  }
  return learner;
}

namespace {

// `sum` += `part` * weight, detached (the step's loss terms, for logging).
void AddWeighted(torch::Tensor& sum, const torch::Tensor& part, double weight) {
  if (!part.defined()) return;
  const torch::Tensor term = part.detach() * weight;
  sum = sum.defined() ? sum + term : term;
}

}  // namespace

StepLoss Learner::Forward(const torch::Tensor& x, const torch::Tensor& y,
                          const torch::Tensor& teacher_logits, const spec::TrainingSpec& training) {
  const bool natural = optimizer_spec.name == "natural";
  const bool distill = teacher_logits.defined() && training.distill.weight > 0;
  const auto attentions = model->attentions();
  const int64_t B = x.size(0);
  const int64_t M = training.micro_batch_size > 0 ? std::min<int64_t>(training.micro_batch_size, B) : B;
  const torch::Device device = x.device();
  ZeroGradients(params);
  StepLoss loss;
  std::vector<double> energies;  // natural: per layer, the row-weighted mean over micro-batches
  // Micro-batches of M rows: each one's loss, weighted by its share of the rows, is
  // backpropagated at once, so the accumulated gradients are the whole batch's (the
  // per-token mean losses of equal-length rows average exactly) while only one
  // micro-batch's activations are alive.
  for (int64_t start = 0; start < B; start += M) {
    const int64_t rows = std::min(M, B - start);
    const double weight = static_cast<double>(rows) / static_cast<double>(B);
    if (natural) {
      for (const auto& a : attentions) a->set_capture(true);
    }
    StepLoss part;
    {
      AutocastScope autocast(precision, device, autocast_cache);
      const torch::Tensor inputs = x.narrow(0, start, rows), targets = y.narrow(0, start, rows);
      const torch::Tensor hidden = model->forward_hidden(inputs);  // (rows, T, C)
      if (distill) {
        // Both terms through the head a chunk of rows at a time (lm_head_loss.h): the
        // student's (rows, T, V) logits never exist at once.
        auto [lm, kl] = DistillLmHeadLoss(hidden, model->lm_head_weight(), targets,
                                          teacher_logits.narrow(0, start, rows), training.distill.temperature,
                                          ComputeDtype(precision));
        if (training.lm_weight > 0) part.lm = lm;
        part.distill = kl;
      } else if (training.lm_weight > 0) {
        part.lm = LmHeadLoss(hidden, model->lm_head_weight(), targets, ComputeDtype(precision));
      }
    }
    if (part.lm.defined()) part.total = part.lm * training.lm_weight;
    if (part.distill.defined()) {
      const torch::Tensor term = part.distill * training.distill.weight;
      part.total = part.total.defined() ? part.total + term : term;
    }
    if (natural) {
      std::vector<torch::Tensor> scores;
      for (const auto& a : attentions) {
        scores.push_back(a->captured().scores);
        a->set_capture(false);
      }
      const std::vector<double> e = AttentionEnergies(scores);
      energies.resize(e.size(), 0.0);
      for (size_t l = 0; l < e.size(); ++l) energies[l] += weight * e[l];
    }
    scaler.Scale(part.total * weight).backward();
    AddWeighted(loss.total, part.total, weight);
    AddWeighted(loss.lm, part.lm, weight);
    AddWeighted(loss.distill, part.distill, weight);
  }
  if (natural) layer_scales = NaturalScales(energies, optimizer_spec);
  return loss;
}

void Learner::Finish(const spec::TrainingSpec& training) {
  if (scaler.active()) {
    std::vector<torch::Tensor> grads;
    for (const torch::Tensor& p : params) grads.push_back(p.grad());
    scaler.Unscale(grads);
  }
  if (training.grad_clip > 0) ClipGradients(params, training.grad_clip);
  update->Step(scaler.found_inf());
  scaler.Update();
  trainable.Restore();
}

StepLoss Learner::Step(const torch::Tensor& x, const torch::Tensor& y,
                       const torch::Tensor& teacher_logits, const spec::TrainingSpec& training,
                       double lr) {
  const StepLoss loss = Forward(x, y, teacher_logits, training);
  SetLayerLearningRates(adamw, lr, layer_scales);
  update->LoadLearningRates();
  Finish(training);
  return loss;
}

}  // namespace gwo::trainer
