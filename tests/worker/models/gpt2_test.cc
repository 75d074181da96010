#include "worker/models/gpt2.h"

#include <torch/torch.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gwo::models {
namespace {

using ::testing::HasSubstr;

spec::ModelSpec SmallSpec() {
  spec::ModelSpec spec;
  spec.n_layer = 2;
  spec.n_head = 2;
  spec.n_embd = 16;
  spec.block_size = 8;
  return spec;
}

Gpt2 MakeSmall(const spec::ModelSpec& spec = SmallSpec(), int vocab = 256) {
  torch::manual_seed(1);
  absl::StatusOr<Gpt2> model = MakeGpt2(spec, spec::AttentionSpec{}, vocab);
  EXPECT_TRUE(model.ok()) << model.status();
  (*model)->eval();
  return *model;
}

TEST(Gpt2, LogitsHaveShapeBatchTimeVocab) {
  Gpt2 model = MakeSmall();
  const torch::Tensor idx = torch::randint(0, 256, {3, 5}, torch::kLong);  // (B, T)
  const torch::Tensor logits = model->forward(idx);
  EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{3, 5, 256}));
  EXPECT_TRUE(torch::isfinite(logits).all().item<bool>());
}

TEST(Gpt2, ParameterCountMatchesClosedForm) {
  for (const int n_layer : {1, 2, 3}) {
    spec::ModelSpec spec = SmallSpec();
    spec.n_layer = n_layer;
    Gpt2 model = MakeSmall(spec, 100);
    const ParameterCounts counts = CountParameters(*model);
    EXPECT_EQ(counts.total, Gpt2ParameterCount(spec, 100));
    EXPECT_EQ(counts.trainable, counts.total);
  }
  // GPT-2 small: 124,439,808 parameters with its 50257-token vocabulary.
  spec::ModelSpec small;
  small.n_layer = 12;
  small.n_head = 12;
  small.n_embd = 768;
  small.block_size = 1024;
  EXPECT_EQ(Gpt2ParameterCount(small, 50257), 124439808);
}

TEST(Gpt2, LmHeadIsTiedToTokenEmbedding) {
  Gpt2 model = MakeSmall();
  for (const auto& item : model->named_parameters()) {
    EXPECT_THAT(item.key(), ::testing::Not(HasSubstr("lm_head")));
  }
  const torch::Tensor idx = torch::zeros({1, 1}, torch::kLong);
  model->forward(idx).sum().backward();
  EXPECT_TRUE(model->wte->weight.grad().defined());
}

TEST(Gpt2, ResidualProjectionsUseScaledInit) {
  spec::ModelSpec spec = SmallSpec();
  spec.n_embd = 256;  // enough weights for a stable std estimate
  spec.n_head = 4;
  Gpt2 model = MakeSmall(spec);
  int projections = 0, fcs = 0, biases = 0;
  for (const auto& item : model->named_parameters()) {
    const std::string& name = item.key();
    const torch::Tensor& p = item.value();
    if (name.ends_with("c_proj.weight")) {
      EXPECT_NEAR(p.std().item<double>(), 0.01, 0.001) << name;  // 0.02 / sqrt(2 * 2)
      ++projections;
    } else if (name.ends_with("c_fc.weight")) {
      EXPECT_NEAR(p.std().item<double>(), 0.02, 0.001) << name;
      ++fcs;
    } else if (name.ends_with(".bias")) {
      EXPECT_EQ(p.abs().max().item<double>(), 0.0) << name;
      ++biases;
    }
  }
  // Each block's attention and MLP output projections, its MLP input, and biases were
  // all seen: a renamed parameter cannot make the checks above vanish.
  EXPECT_EQ(projections, 2 * spec.n_layer);
  EXPECT_EQ(fcs, spec.n_layer);
  EXPECT_GE(biases, 4 * spec.n_layer);
}

TEST(Gpt2, ChangingAFutureTokenLeavesEarlierLogitsUnchanged) {
  Gpt2 model = MakeSmall();
  torch::manual_seed(2);
  const torch::Tensor idx = torch::randint(0, 256, {2, 8}, torch::kLong);  // (B, T)
  torch::Tensor changed = idx.clone();
  changed.index_put_({torch::indexing::Slice(), 5},
                     (idx.index({torch::indexing::Slice(), 5}) + 1) % 256);
  const torch::Tensor a = model->forward(idx), b = model->forward(changed);  // (B, T, V)
  using torch::indexing::Slice;
  EXPECT_TRUE(torch::equal(a.index({Slice(), Slice(0, 5)}), b.index({Slice(), Slice(0, 5)})));
  EXPECT_FALSE(torch::allclose(a.index({Slice(), Slice(5)}), b.index({Slice(), Slice(5)})));
}

TEST(Gpt2, InvalidSpecsAreInvalidArgument) {
  spec::ModelSpec spec = SmallSpec();
  spec.n_head = 3;  // does not divide 16
  EXPECT_THAT(MakeGpt2(spec, {}, 256).status().message(), HasSubstr("does not divide"));
  spec = SmallSpec();
  spec.arch = "llama";
  EXPECT_EQ(MakeGpt2(spec, {}, 256).status().code(), absl::StatusCode::kInvalidArgument);
  spec::AttentionSpec attention;
  attention.kind = "nope";
  EXPECT_THAT(MakeGpt2(SmallSpec(), attention, 256).status().message(), HasSubstr("standard"));
}

TEST(Gpt2, SequencesLongerThanBlockSizeThrow) {
  Gpt2 model = MakeSmall();
  EXPECT_THROW(model->forward(torch::zeros({1, 9}, torch::kLong)), c10::Error);
}

}  // namespace
}  // namespace gwo::models
