#include "worker/models/qwen3.h"

#include <torch/torch.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "worker/models/model_shape.h"

namespace gwo::models {
namespace {

using ::testing::HasSubstr;
using torch::indexing::Slice;

spec::ModelSpec SmallSpec() {
  spec::ModelSpec spec;
  spec.arch = "qwen3";
  spec.n_layer = 2;
  spec.n_head = 4;
  spec.n_kv_head = 2;
  spec.head_dim = 8;
  spec.n_embd = 16;
  spec.intermediate_size = 40;
  spec.block_size = 12;
  spec.rope_theta = 10000;
  return spec;
}

Qwen3 MakeSmall(const spec::ModelSpec& spec = SmallSpec(), int vocab = 64) {
  torch::manual_seed(1);
  absl::StatusOr<Qwen3> model = MakeQwen3(spec, spec::AttentionSpec{}, vocab);
  EXPECT_TRUE(model.ok()) << model.status();
  (*model)->eval();
  return *model;
}

TEST(Qwen3, LogitsHaveShapeBatchTimeVocab) {
  Qwen3 model = MakeSmall();
  const torch::Tensor idx = torch::randint(0, 64, {3, 7}, torch::kLong);  // (B, T)
  const torch::Tensor logits = model->forward(idx);
  EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{3, 7, 64}));
  EXPECT_TRUE(torch::isfinite(logits).all().item<bool>());
  EXPECT_THROW(model->forward(torch::zeros({1, 13}, torch::kLong)), c10::Error);
}

TEST(Qwen3, ChangingAFutureTokenLeavesEarlierLogitsUnchanged) {
  Qwen3 model = MakeSmall();
  torch::manual_seed(2);
  const torch::Tensor idx = torch::randint(0, 64, {2, 12}, torch::kLong);  // (B, T)
  torch::Tensor changed = idx.clone();
  changed.index_put_({Slice(), 7}, (idx.index({Slice(), 7}) + 1) % 64);
  const torch::Tensor a = model->forward(idx), b = model->forward(changed);  // (B, T, V)
  EXPECT_TRUE(torch::equal(a.index({Slice(), Slice(0, 7)}), b.index({Slice(), Slice(0, 7)})));
  EXPECT_FALSE(torch::allclose(a.index({Slice(), Slice(7)}), b.index({Slice(), Slice(7)})));
}

TEST(Qwen3, GroupedQueryAttentionEqualsMultiHeadWithRepeatedKvWeights) {
  spec::ModelSpec gqa_spec = SmallSpec();
  gqa_spec.n_kv_head = 1;  // 4 query heads share one k/v head
  Qwen3 gqa = MakeSmall(gqa_spec);
  spec::ModelSpec mha_spec = SmallSpec();
  mha_spec.n_kv_head = 4;
  Qwen3 mha = MakeSmall(mha_spec);
  auto& gqa_attn = *gqa->model->layers[0]->as<Qwen3DecoderLayerImpl>()->self_attn;
  EXPECT_EQ(gqa_attn.k_proj->weight.sizes(), (std::vector<int64_t>{8, 16}));  // (K*hd, C)

  // Copy every weight; k/v projections repeated per query head.
  torch::NoGradGuard no_grad;
  auto gqa_params = gqa->named_parameters();
  for (auto& item : mha->named_parameters()) {
    const torch::Tensor source = gqa_params[item.key()];
    if (item.key().ends_with("k_proj.weight") || item.key().ends_with("v_proj.weight")) {
      item.value().copy_(source.repeat({4, 1}));  // (hd, C) -> (4 hd, C)
    } else {
      item.value().copy_(source);
    }
  }
  const torch::Tensor idx = torch::randint(0, 64, {2, 9}, torch::kLong);
  EXPECT_TRUE(torch::allclose(gqa->forward(idx), mha->forward(idx), 1e-5, 1e-6));
}

TEST(Qwen3, RepeatKvGivesEachKvHeadConsecutiveQueryHeads) {
  const torch::Tensor kv =
      torch::arange(2).view({1, 2, 1, 1}).expand({1, 2, 3, 4});  // (B, K, T, hd)
  const torch::Tensor repeated = RepeatKv(kv, 3);                // (1, 6, 3, 4)
  EXPECT_EQ(repeated.sizes(), (std::vector<int64_t>{1, 6, 3, 4}));
  EXPECT_TRUE(torch::equal(repeated.index({0, Slice(), 0, 0}), torch::tensor({0, 0, 0, 1, 1, 1})));
}

TEST(Qwen3, RopeScoresDependOnlyOnRelativePosition) {
  const int64_t hd = 16, T = 40;
  const auto [cos, sin] = RopeTables(T, hd, 10000.0, torch::kCPU);  // (T, hd)
  torch::manual_seed(3);
  const torch::Tensor q = torch::randn({hd}), k = torch::randn({hd});
  // Place q at position m and k at position n; rotate all positions at once.
  auto rotated = [&](const torch::Tensor& v) {
    return ApplyRope(v.expand({1, 1, T, hd}), cos, sin)[0][0];  // (T, hd)
  };
  const torch::Tensor rq = rotated(q), rk = rotated(k);
  auto score = [&](int64_t m, int64_t n) { return torch::dot(rq[m], rk[n]).item<double>(); };
  for (const int64_t shift : {1, 5, 17, 30}) {
    EXPECT_NEAR(score(3, 1), score(3 + shift, 1 + shift), 1e-4) << shift;
    EXPECT_NEAR(score(2, 9), score(2 + shift, 9 + shift), 1e-4) << shift;
  }
  EXPECT_GT(std::abs(score(3, 1) - score(3, 2)), 1e-3);  // but it does depend on m - n
  // Position 0 is the identity and rotation keeps norms.
  EXPECT_TRUE(torch::allclose(rq[0], q));
  EXPECT_NEAR(rq[25].norm().item<double>(), q.norm().item<double>(), 1e-4);
}

TEST(Qwen3, RopeFrequenciesFollowTheta) {
  const auto [cos, sin] = RopeTables(3, 4, 100.0, torch::kCPU);  // inv_freq = {1, 1/10}
  EXPECT_NEAR(sin[1][0].item<double>(), std::sin(1.0), 1e-6);
  EXPECT_NEAR(sin[2][1].item<double>(), std::sin(0.2), 1e-6);
  EXPECT_TRUE(torch::equal(cos.index({Slice(), Slice(0, 2)}), cos.index({Slice(), Slice(2, 4)})));
}

TEST(Qwen3, RmsNormScalesByRootMeanSquare) {
  RmsNorm norm(4, 1e-6);
  torch::NoGradGuard no_grad;
  norm->weight.copy_(torch::tensor({1.0f, 2.0f, 1.0f, 1.0f}));
  const torch::Tensor y = norm->forward(torch::tensor({{1.0f, 1.0f, 3.0f, 3.0f}}));  // rms sqrt(5)
  const double r = std::sqrt(5.0);
  EXPECT_TRUE(
      torch::allclose(y, torch::tensor({{1 / r, 2 / r, 3 / r, 3 / r}}).to(torch::kFloat32)));
}

TEST(Qwen3, ParameterCountMatchesClosedForm) {
  for (const bool tie : {true, false}) {
    for (const int n_kv_head : {1, 2, 4}) {
      spec::ModelSpec spec = SmallSpec();
      spec.tie_embeddings = tie;
      spec.n_kv_head = n_kv_head;
      Qwen3 model = MakeSmall(spec);
      EXPECT_EQ(model->parameter_counts().total, ParameterCount(model->spec()))
          << tie << " " << n_kv_head;
      EXPECT_EQ(static_cast<bool>(model->lm_head), !tie);
    }
  }
}

TEST(Qwen3, InitIsNormalForMatricesAndOnesForNorms) {
  spec::ModelSpec spec = SmallSpec();
  spec.n_embd = 128;
  spec.intermediate_size = 256;
  Qwen3 model = MakeSmall(spec);
  for (const auto& item : model->named_parameters()) {
    if (item.value().dim() == 1) {
      EXPECT_TRUE(torch::equal(item.value(), torch::ones_like(item.value()))) << item.key();
    } else if (item.key().ends_with("gate_proj.weight")) {
      EXPECT_NEAR(item.value().std().item<double>(), 0.02, 0.002) << item.key();
    }
  }
}

TEST(Qwen3, InvalidSpecsAreInvalidArgument) {
  spec::ModelSpec spec = SmallSpec();
  spec.n_kv_head = 3;
  EXPECT_THAT(MakeQwen3(spec, {}, 64).status().message(), HasSubstr("does not divide n_head"));
  EXPECT_EQ(MakeQwen3(spec::ModelSpec{}, {}, 64).status().code(),
            absl::StatusCode::kInvalidArgument);  // arch gpt2
}

TEST(MakeModel, BuildsTheArchTheSpecNames) {
  absl::StatusOr<std::shared_ptr<CausalLm>> qwen3 = MakeModel(SmallSpec(), {}, 64);
  ASSERT_TRUE(qwen3.ok()) << qwen3.status();
  EXPECT_NE(dynamic_cast<Qwen3Impl*>(qwen3->get()), nullptr);
  EXPECT_EQ((*qwen3)->attentions().size(), 2u);
  EXPECT_EQ((*qwen3)->spec().norm_eps, 1e-6);
  spec::ModelSpec other = SmallSpec();
  other.arch = "mamba";
  EXPECT_THAT(MakeModel(other, {}, 64).status().message(), HasSubstr("gpt2, qwen3"));
  spec::AttentionSpec attention;
  attention.kind = "nope";
  EXPECT_THAT(MakeModel(SmallSpec(), attention, 64).status().message(), HasSubstr("standard"));
}

}  // namespace
}  // namespace gwo::models
