#include "worker/trainer/optimization.h"

#include <torch/torch.h>

#include "gtest/gtest.h"
#include "worker/models/gpt2.h"

namespace gwo::trainer {
namespace {

TEST(AdamW, FewStepsOnOneFixedBatchLowerTheLoss) {
  spec::ModelSpec model_spec;
  model_spec.n_layer = 1;
  model_spec.n_head = 2;
  model_spec.n_embd = 16;
  model_spec.block_size = 8;
  torch::manual_seed(3);
  models::Gpt2 model = *models::MakeGpt2(model_spec, {}, 32);
  spec::TrainingSpec training;
  training.lr = 1e-2;
  std::unique_ptr<torch::optim::AdamW> optimizer = MakeAdamW(*model, training);
  const torch::Tensor x = torch::randint(0, 32, {4, 8}, torch::kLong);  // (B, T)
  const torch::Tensor y = torch::randint(0, 32, {4, 8}, torch::kLong);  // (B, T)

  const double initial = LanguageModelLoss(model->forward(x), y).item<double>();
  EXPECT_NEAR(initial, std::log(32.0), 0.2);  // near-uniform predictions at init
  for (int step = 0; step < 10; ++step) {
    const torch::Tensor loss = LanguageModelLoss(model->forward(x), y);
    optimizer->zero_grad();
    loss.backward();
    optimizer->step();
  }
  const double after = LanguageModelLoss(model->forward(x), y).item<double>();
  EXPECT_LT(after, initial - 0.5);
}

TEST(AdamW, DecaysOnlyMatrices) {
  spec::ModelSpec model_spec;
  model_spec.n_layer = 1;
  model_spec.n_embd = 16;
  model_spec.block_size = 8;
  models::Gpt2 model = *models::MakeGpt2(model_spec, {}, 32);
  spec::TrainingSpec training;
  training.weight_decay = 0.1;
  std::unique_ptr<torch::optim::AdamW> optimizer = MakeAdamW(*model, training);
  ASSERT_EQ(optimizer->param_groups().size(), 2u);
  auto& decay = optimizer->param_groups()[0];
  auto& no_decay = optimizer->param_groups()[1];
  EXPECT_DOUBLE_EQ(static_cast<torch::optim::AdamWOptions&>(decay.options()).weight_decay(), 0.1);
  EXPECT_DOUBLE_EQ(static_cast<torch::optim::AdamWOptions&>(no_decay.options()).weight_decay(),
                   0.0);
  for (const auto& p : decay.params()) EXPECT_GE(p.dim(), 2);
  for (const auto& p : no_decay.params()) EXPECT_EQ(p.dim(), 1);
  SetLearningRate(*optimizer, 0.25);
  EXPECT_DOUBLE_EQ(static_cast<torch::optim::AdamWOptions&>(no_decay.options()).lr(), 0.25);
}

}  // namespace
}  // namespace gwo::trainer
