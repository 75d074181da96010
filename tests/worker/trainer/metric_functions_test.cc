// The comparison metrics and the natural optimizer's scaling on hand-computed inputs,
// and KL / fidelity / distillation on tiny models.
#include "worker/trainer/metric_functions.h"

#include <torch/torch.h>

#include <cmath>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "worker/models/model.h"
#include "worker/trainer/evaluation.h"
#include "worker/trainer/learner.h"
#include "worker/trainer/natural_optimizer.h"

namespace gwo::trainer {
namespace {

TEST(KendallTau, HandComputedCases) {
  EXPECT_DOUBLE_EQ(KendallTau(torch::tensor({1., 2., 3., 4.}), torch::tensor({10., 20., 30., 40.})), 1.0);
  EXPECT_DOUBLE_EQ(KendallTau(torch::tensor({1., 2., 3., 4.}), torch::tensor({4., 3., 2., 1.})), -1.0);
  // x = 1 2 3, y = 1 3 2: pairs (1,2) c, (1,3) c, (2,3) d -> (2 - 1) / 3.
  EXPECT_NEAR(KendallTau(torch::tensor({1., 2., 3.}), torch::tensor({1., 3., 2.})), 1.0 / 3.0, 1e-12);
  // Ties (tau-b): x = 1 1 2, y = 1 2 3: pairs (1,2) tied in x, (1,3) c, (2,3) c;
  // (2 - 0) / sqrt((3 - 1) * (3 - 0)) = 2 / sqrt(6).
  EXPECT_NEAR(KendallTau(torch::tensor({1., 1., 2.}), torch::tensor({1., 2., 3.})), 2.0 / std::sqrt(6.0), 1e-12);
  EXPECT_TRUE(std::isnan(KendallTau(torch::tensor({1., 1.}), torch::tensor({1., 2.}))));
}

TEST(CosineSimilarity, HandComputedCases) {
  EXPECT_NEAR(CosineSimilarity(torch::tensor({1., 0.}), torch::tensor({1., 1.})), 1.0 / std::sqrt(2.0), 1e-12);
  EXPECT_NEAR(CosineSimilarity(torch::tensor({1., 2., 3.}), torch::tensor({-2., -4., -6.})), -1.0, 1e-12);
  EXPECT_EQ(CosineSimilarity(torch::zeros({3}), torch::ones({3})), 0.0);
}

TEST(MeanSquaredErrorPerLayer, AveragesTheLayersMeans) {
  // Layer 0: diffs (1, 1) -> 1; layer 1: diffs (0, 2, 0, 2) -> 2. Mean 1.5.
  const std::vector<torch::Tensor> a = {torch::tensor({1., 2.}), torch::tensor({0., 2., 0., 2.})};
  const std::vector<torch::Tensor> b = {torch::tensor({0., 1.}), torch::zeros({4}, torch::kDouble)};
  EXPECT_DOUBLE_EQ(MeanSquaredErrorPerLayer(a, b), 1.5);
  EXPECT_TRUE(std::isnan(MeanSquaredErrorPerLayer(a, {b[0]})));
}

TEST(TokenKl, HandComputedAndZeroForEqualInputs) {
  // P = (1/2, 1/2), Q = (1/4, 3/4): KL = 1/2 ln 2 + 1/2 ln(2/3).
  const torch::Tensor p = torch::log(torch::tensor({{0.5f, 0.5f}}));
  const torch::Tensor q = torch::log(torch::tensor({{0.25f, 0.75f}}));
  EXPECT_NEAR(TokenKl(p, q).item<double>(), 0.5 * std::log(2.0) + 0.5 * std::log(2.0 / 3.0), 1e-6);
  const torch::Tensor logits = torch::randn({2, 5, 7});
  EXPECT_EQ(TokenKl(logits, logits).item<double>(), 0.0);
}

TEST(NaturalOptimizer, ScalesOnAHandComputedCase) {
  // Layer 0 scores: [[1, -inf], [3, -1]] -> unmasked squares 1, 9, 1 -> E = 11/3.
  // Layer 1 scores: [[2, -inf], [0, 0]] -> 4, 0, 0 -> E = 4/3.
  const float inf = std::numeric_limits<float>::infinity();
  const torch::Tensor s0 = torch::tensor({1.f, -inf, 3.f, -1.f}).view({1, 1, 2, 2});
  const torch::Tensor s1 = torch::tensor({2.f, -inf, 0.f, 0.f}).view({1, 1, 2, 2});
  const std::vector<double> energies = AttentionEnergies({s0, s1, torch::Tensor()});
  EXPECT_NEAR(energies[0], 11.0 / 3.0, 1e-9);
  EXPECT_NEAR(energies[1], 4.0 / 3.0, 1e-9);
  EXPECT_TRUE(std::isnan(energies[2]));
  // Mean energy 5/2; beta 1: f = (5/2) / E -> 15/22 and 15/8; the third layer keeps 1.
  spec::OptimizerSpec spec;
  spec.natural_strength = 1.0;
  std::vector<double> scales = NaturalScales(energies, spec);
  EXPECT_NEAR(scales[0], 15.0 / 22.0, 1e-9);
  EXPECT_NEAR(scales[1], 15.0 / 8.0, 1e-9);
  EXPECT_EQ(scales[2], 1.0);
  // beta 0.5 and a clamp at 1.2: sqrt(15/22), min(sqrt(15/8), 1.2).
  spec.natural_strength = 0.5;
  spec.natural_max_scale = 1.2;
  scales = NaturalScales(energies, spec);
  EXPECT_NEAR(scales[0], std::sqrt(15.0 / 22.0), 1e-9);
  EXPECT_NEAR(scales[1], 1.2, 1e-12);
}

TEST(NaturalOptimizer, LayerOfParameterAndPerLayerLearningRates) {
  EXPECT_EQ(LayerOfParameter("h.3.attn.c_attn.weight"), 3);
  EXPECT_EQ(LayerOfParameter("model.layers.12.mlp.up_proj.weight"), 12);
  EXPECT_EQ(LayerOfParameter("wte.weight"), -1);
  EXPECT_EQ(LayerOfParameter("model.norm.weight"), -1);
  spec::ModelSpec m;
  m.n_layer = 2;
  m.n_embd = 16;
  m.block_size = 8;
  auto model = *models::MakeModel(m, {}, 32);
  spec::TrainingSpec training;
  LayeredAdamW adamw = MakeLayeredAdamW(*model, training);
  SetLayerLearningRates(adamw, 0.1, {0.5, 2.0});
  auto& groups = adamw.optimizer->param_groups();
  ASSERT_EQ(groups.size(), adamw.group_layer.size());
  for (size_t g = 0; g < groups.size(); ++g) {
    const double lr = static_cast<torch::optim::AdamWOptions&>(groups[g].options()).lr();
    const int layer = adamw.group_layer[g];
    EXPECT_DOUBLE_EQ(lr, layer == 0 ? 0.05 : layer == 1 ? 0.2 : 0.1) << "group " << g;
  }
}

std::shared_ptr<models::CausalLm> Tiny(uint64_t seed) {
  spec::ModelSpec m;
  m.n_layer = 2;
  m.n_head = 2;
  m.n_embd = 16;
  m.block_size = 8;
  torch::manual_seed(seed);
  return *models::MakeModel(m, {}, 32);
}

// MeasureFidelity captures one layer of one sequence at a time (memory); its MSE must
// equal the per-layer mean over the whole batch's captured probabilities.
TEST(Fidelity, AttentionMseEqualsTheWholeBatchMeanOverLayers) {
  auto model = Tiny(1);
  auto other = Tiny(2);
  torch::manual_seed(5);
  const torch::Tensor x = torch::randint(0, 32, {3, 8}, torch::kLong);
  std::vector<torch::Tensor> a, b;
  {
    torch::NoGradGuard no_grad;
    model->eval();
    other->eval();
    for (const auto& att : model->attentions()) att->set_capture(true);
    for (const auto& att : other->attentions()) att->set_capture(true);
    model->forward(x);
    other->forward(x);
    for (const auto& att : model->attentions()) a.push_back(att->captured().probs);
    for (const auto& att : other->attentions()) b.push_back(att->captured().probs);
    for (const auto& att : model->attentions()) att->set_capture(false);
    for (const auto& att : other->attentions()) att->set_capture(false);
  }
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(a[0].size(0), 3);
  const double whole = MeanSquaredErrorPerLayer(a, b);
  ASSERT_GT(whole, 0.0);
  const Fidelity f = MeasureFidelity(*model, *other, {{x, x}});
  EXPECT_NEAR(f.attn_prob_mse, whole, 1e-12 + 1e-9 * whole);
  for (const auto& att : model->attentions()) EXPECT_FALSE(att->captured().probs.defined());
}

TEST(Fidelity, AModelAgainstItselfHasZeroKlAndMseAndCosineOne) {
  auto model = Tiny(1);
  auto copy = Tiny(1);
  torch::manual_seed(4);
  const torch::Tensor x = torch::randint(0, 32, {2, 8}, torch::kLong);
  const torch::Tensor y = torch::randint(0, 32, {2, 8}, torch::kLong);
  const Fidelity f = MeasureFidelity(*model, *copy, {{x, y}});
  EXPECT_NEAR(f.kl, 0.0, 1e-7);
  EXPECT_NEAR(f.attn_prob_mse, 0.0, 1e-12);
  EXPECT_NEAR(f.attn_grad_cosine, 1.0, 1e-6);
  const Fidelity g = MeasureFidelity(*model, *Tiny(2), {{x, y}});
  EXPECT_GT(g.kl, 0.0);
  EXPECT_GT(g.attn_prob_mse, 0.0);
  EXPECT_LT(g.attn_grad_cosine, 0.99);
  for (const auto& p : model->parameters()) EXPECT_FALSE(p.grad().defined());
}

// Passes of 2 + 1 rows (training.micro_batch_size) give the whole batch's KL and
// gradient cosine: every token and every row weighs the same.
TEST(Fidelity, MicroBatchesGiveTheWholeBatchFigures) {
  auto model = Tiny(1);
  auto other = Tiny(2);
  torch::manual_seed(6);
  const torch::Tensor x = torch::randint(0, 32, {3, 8}, torch::kLong);
  const torch::Tensor y = torch::randint(0, 32, {3, 8}, torch::kLong);
  const Fidelity whole = MeasureFidelity(*model, *other, {{x, y}});
  const Fidelity parts = MeasureFidelity(*model, *other, {{x, y}}, 2);
  ASSERT_GT(whole.kl, 0.0);
  EXPECT_NEAR(parts.kl, whole.kl, 1e-6 * whole.kl);
  EXPECT_NEAR(parts.attn_prob_mse, whole.attn_prob_mse, 1e-9 * whole.attn_prob_mse);
  ASSERT_LT(whole.attn_grad_cosine, 0.99);
  EXPECT_NEAR(parts.attn_grad_cosine, whole.attn_grad_cosine, 1e-5);
  const Fidelity singles = MeasureFidelity(*model, *other, {{x, y}}, 1);
  EXPECT_NEAR(singles.attn_grad_cosine, whole.attn_grad_cosine, 1e-5);
}

TEST(Distillation, TrainingOnTheKlTermReducesTheKlToTheTeacher) {
  auto teacher = Tiny(1);
  teacher->eval();
  auto student = Tiny(2);
  spec::TrainingSpec training;
  training.lm_weight = 0.0;
  training.distill.teacher = "unused";
  training.distill.weight = 1.0;
  training.lr = 1e-2;
  training.weight_decay = 0.0;
  auto learner = *MakeLearner(student, training, training.optimizer, "");
  torch::manual_seed(7);
  const torch::Tensor x = torch::randint(0, 32, {4, 8}, torch::kLong);
  torch::Tensor teacher_logits;
  {
    torch::NoGradGuard no_grad;
    teacher_logits = teacher->forward(x);
  }
  const Fidelity before = MeasureFidelity(*student, *teacher, {{x, x}});
  for (int i = 0; i < 20; ++i) {
    const StepLoss loss = learner->Step(x, x, teacher_logits, training, training.lr);
    ASSERT_FALSE(loss.lm.defined());
    ASSERT_TRUE(loss.distill.defined());
  }
  const Fidelity after = MeasureFidelity(*student, *teacher, {{x, x}});
  EXPECT_LT(after.kl, before.kl * 0.5) << before.kl << " -> " << after.kl;
}

}  // namespace
}  // namespace gwo::trainer
