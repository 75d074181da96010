// The pieces of one optimisation step: AdamW with decay on matrices only, the
// learning-rate setter and the language-modelling loss.
#ifndef GWO_WORKER_TRAINER_OPTIMIZATION_H_
#define GWO_WORKER_TRAINER_OPTIMIZATION_H_

#include <torch/nn/module.h>
#include <torch/optim/adamw.h>

#include <memory>

#include "spec/run_spec.h"

namespace gwo::trainer {

// AdamW over the trainable parameters of `model` in two groups: tensors with >= 2
// dimensions (matmul weights, embeddings) decay by training.weight_decay, the rest
// (biases, LayerNorm gains) do not. Betas from the spec, eps 1e-8, lr = training.lr.
std::unique_ptr<torch::optim::AdamW> MakeAdamW(torch::nn::Module& model,
                                               const spec::TrainingSpec& training);

// The options of one AdamW parameter group: lr = training.lr, betas from the spec,
// eps 1e-8, the given decoupled weight decay.
std::unique_ptr<torch::optim::AdamWOptions> AdamWGroupOptions(const spec::TrainingSpec& training,
                                                              double weight_decay);

// Sets the learning rate of every parameter group of an AdamW optimizer.
void SetLearningRate(torch::optim::AdamW& optimizer, double lr);

// Mean next-token cross-entropy in nats: logits (B, T, V), targets (B, T) int64 -> ().
torch::Tensor LanguageModelLoss(const torch::Tensor& logits, const torch::Tensor& targets);

}  // namespace gwo::trainer

#endif  // GWO_WORKER_TRAINER_OPTIMIZATION_H_
