#include "worker/trainer/optimization.h"

#include <torch/nn/functional/loss.h>

#include <tuple>
#include <utility>
#include <vector>

namespace gwo::trainer {

std::unique_ptr<torch::optim::AdamW> MakeAdamW(torch::nn::Module& model,
                                               const spec::TrainingSpec& training) {
  std::vector<torch::Tensor> decay, no_decay;
  for (const torch::Tensor& p : model.parameters()) {
    if (!p.requires_grad()) continue;
    (p.dim() >= 2 ? decay : no_decay).push_back(p);
  }
  auto options = [&](double weight_decay) { return AdamWGroupOptions(training, weight_decay); };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::move(decay), options(training.weight_decay));
  groups.emplace_back(std::move(no_decay), options(0.0));
  return std::make_unique<torch::optim::AdamW>(std::move(groups),
                                               torch::optim::AdamWOptions(training.lr));
}

std::unique_ptr<torch::optim::AdamWOptions> AdamWGroupOptions(const spec::TrainingSpec& training,
                                                              double weight_decay) {
  return std::make_unique<torch::optim::AdamWOptions>(
      torch::optim::AdamWOptions(training.lr)
          .betas(std::make_tuple(training.beta1, training.beta2))
          .eps(1e-8)
          .weight_decay(weight_decay));
}

void SetLearningRate(torch::optim::AdamW& optimizer, double lr) {
  for (torch::optim::OptimizerParamGroup& group : optimizer.param_groups()) {
    static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
  }
}

torch::Tensor LanguageModelLoss(const torch::Tensor& logits, const torch::Tensor& targets) {
  const int64_t V = logits.size(-1);
  // F.cross_entropy(logits.view(-1, V), targets.view(-1)) in PyTorch.
  return torch::nn::functional::cross_entropy(logits.reshape({-1, V}), targets.reshape({-1}));
}

}  // namespace gwo::trainer
