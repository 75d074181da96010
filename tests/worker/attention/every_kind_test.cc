// Properties every registered attention kind must have: causality, capture of
// probabilities (and scores), gradients to every parameter, and that a tiny GPT-2 and
// a grouped-query Qwen3 train with it.
#include <torch/torch.h>

#include <cmath>
#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"
#include "tests/worker/attention/test_util.h"
#include "worker/attention/registry.h"
#include "worker/models/model.h"

namespace gwo::attention {
namespace {

using testing::Make;
using testing::Qkv;
using testing::RandomQkv;
using testing::SmallSpec;
using ::torch::indexing::None;
using ::torch::indexing::Slice;

std::vector<std::string> Kinds() {
  std::vector<std::string> kinds;
  for (std::string_view kind : RegisteredKinds()) kinds.emplace_back(kind);
  return kinds;
}

class EveryKind : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { torch::manual_seed(7); }
};

TEST_P(EveryKind, FutureTokensNeverChangeEarlierOutputs) {
  std::shared_ptr<Attention> attention = Make(SmallSpec(GetParam()));
  attention->eval();
  const Qkv x = RandomQkv();
  const torch::Tensor out = attention->forward(x.q, x.k, x.v);
  for (int64_t cut : {1, 4, 7}) {
    Qkv changed{x.q.clone(), x.k.clone(), x.v.clone()};
    for (torch::Tensor* t : {&changed.q, &changed.k, &changed.v}) {
      t->index_put_({Slice(), Slice(), Slice(cut, None)},
                    torch::randn_like(t->index({Slice(), Slice(), Slice(cut, None)})) * 3);
    }
    const torch::Tensor out2 = attention->forward(changed.q, changed.k, changed.v);
    const torch::Tensor before = out.index({Slice(), Slice(), Slice(0, cut)});
    const torch::Tensor after = out2.index({Slice(), Slice(), Slice(0, cut)});
    EXPECT_TRUE(torch::allclose(before, after, 1e-4, 1e-5))
        << "cut " << cut << ": max diff " << (before - after).abs().max().item<float>();
    // And the future did change (the test would otherwise prove nothing).
    EXPECT_FALSE(torch::allclose(out.index({Slice(), Slice(), Slice(cut, None)}),
                                 out2.index({Slice(), Slice(), Slice(cut, None)})));
  }
}

TEST_P(EveryKind, CaptureRecordsProbabilitiesOverVisibleKeys) {
  const std::string kind = GetParam();
  std::shared_ptr<Attention> attention = Make(SmallSpec(kind));
  attention->eval();
  const Qkv x = RandomQkv();
  const torch::Tensor plain = attention->forward(x.q, x.k, x.v);
  attention->set_capture(true);
  const torch::Tensor out = attention->forward(x.q, x.k, x.v);
  EXPECT_TRUE(torch::allclose(out, plain, 1e-4, 1e-5)) << "capture changed the output";
  const AttentionCapture& c = attention->captured();
  ASSERT_TRUE(c.probs.defined());
  EXPECT_EQ(c.probs.sizes(), (std::vector<int64_t>{2, 2, 8, 8}));
  EXPECT_FALSE(c.probs.requires_grad());
  const torch::Tensor future = torch::ones({8, 8}, torch::kBool).triu(1);
  EXPECT_EQ(c.probs.masked_select(future).abs().max().item<float>(), 0.0f);
  if (kind != "linear") {  // linear's weights are signed and unnormalised (linear.h)
    EXPECT_TRUE(torch::allclose(c.probs.sum(-1), torch::ones({2, 2, 8}), 1e-5, 1e-5));
    EXPECT_GE(c.probs.min().item<float>(), 0.0f);
  }
  if (kind != "nsa") {  // nsa's compressed branch mixes values (nsa.h)
    EXPECT_TRUE(torch::allclose(torch::matmul(c.probs, x.v), out, 1e-4, 1e-5));
  }
  if (c.scores.defined()) {
    EXPECT_EQ(c.scores.sizes(), c.probs.sizes());
    EXPECT_TRUE(torch::isinf(c.scores.masked_select(future)).all().item<bool>());
    EXPECT_TRUE(torch::allclose(torch::softmax(c.scores, -1), c.probs, 1e-5, 1e-6));
  }
  attention->set_capture(false);
  EXPECT_FALSE(attention->captured().probs.defined());
  attention->forward(x.q, x.k, x.v);
  EXPECT_FALSE(attention->captured().probs.defined());
}

TEST_P(EveryKind, BackwardReachesEveryParameter) {
  std::shared_ptr<Attention> attention = Make(SmallSpec(GetParam()));
  attention->train();
  Qkv x = RandomQkv();
  for (torch::Tensor* t : {&x.q, &x.k, &x.v}) t->requires_grad_(true);
  const torch::Tensor out = attention->forward(x.q, x.k, x.v);
  (out * torch::randn_like(out)).sum().backward();
  for (const auto& item : attention->named_parameters()) {
    ASSERT_TRUE(item.value().grad().defined()) << item.key();
    EXPECT_GT(item.value().grad().abs().sum().item<float>(), 0.0f) << item.key();
  }
  for (torch::Tensor* t : {&x.q, &x.k, &x.v}) {
    ASSERT_TRUE(t->grad().defined());
    EXPECT_TRUE(torch::isfinite(t->grad()).all().item<bool>());
  }
}

TEST_P(EveryKind, UnsupportedNamesTooLongSequences) {
  std::shared_ptr<Attention> attention = Make(SmallSpec(GetParam()));
  EXPECT_FALSE(attention->Unsupported(torch::kCPU, torch::kFloat32, 8).has_value());
  const std::optional<std::string> why = attention->Unsupported(torch::kCPU, torch::kFloat32, 9);
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->find("block_size"), std::string::npos) << *why;
  EXPECT_TRUE(attention->Unsupported(torch::kCPU, torch::kLong, 8).has_value());
}

// next-token loss of `model` on a fixed periodic sequence, trained `steps` steps.
std::vector<float> Train(models::CausalLm& model, int steps) {
  const torch::Tensor tokens = torch::arange(0, 9).remainder(5).unsqueeze(0).repeat({4, 1});  // (4, 9)
  const torch::Tensor idx = tokens.index({Slice(), Slice(0, 8)});
  const torch::Tensor target = tokens.index({Slice(), Slice(1, 9)});
  torch::optim::Adam optimizer(model.parameters(), torch::optim::AdamOptions(3e-2));
  model.train();
  std::vector<float> losses;
  for (int step = 0; step < steps; ++step) {
    const torch::Tensor logits = model.forward(idx);  // (4, 8, V)
    const torch::Tensor loss =
        torch::nn::functional::cross_entropy(logits.reshape({-1, logits.size(-1)}), target.reshape(-1));
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    losses.push_back(loss.item<float>());
  }
  return losses;
}

void ExpectLearns(const std::vector<float>& losses) {
  for (float loss : losses) ASSERT_TRUE(std::isfinite(loss));
  EXPECT_LT(losses.back(), losses.front() * 0.8f)
      << "first " << losses.front() << ", last " << losses.back();
}

TEST_P(EveryKind, TinyGpt2Trains) {
  spec::ModelSpec m{.arch = "gpt2", .n_layer = 1, .n_head = 2, .n_embd = 8, .block_size = 8};
  absl::StatusOr<std::shared_ptr<models::CausalLm>> model =
      models::MakeModel(m, SmallSpec(GetParam()), /*vocab_size=*/5);
  ASSERT_TRUE(model.ok()) << model.status();
  // The variant's own parameters live under h.N.attn.attention.* (attention.h).
  for (const auto& item : (*model)->named_parameters()) {
    if (item.key().find(".attention.") != std::string::npos) {
      EXPECT_EQ(item.key().rfind("h.0.attn.attention.", 0), 0u) << item.key();
    }
  }
  ExpectLearns(Train(**model, 20));
}

TEST_P(EveryKind, TinyGroupedQueryQwen3Trains) {
  spec::ModelSpec m{.arch = "qwen3", .n_layer = 1, .n_head = 2, .n_embd = 8, .block_size = 8,
                    .n_kv_head = 1, .head_dim = 4};
  absl::StatusOr<std::shared_ptr<models::CausalLm>> model =
      models::MakeModel(m, SmallSpec(GetParam()), /*vocab_size=*/5);
  ASSERT_TRUE(model.ok()) << model.status();
  for (const auto& item : (*model)->named_parameters()) {
    if (item.key().find(".attention.") != std::string::npos) {
      EXPECT_EQ(item.key().rfind("model.layers.0.self_attn.attention.", 0), 0u) << item.key();
    }
  }
  ExpectLearns(Train(**model, 20));
}

INSTANTIATE_TEST_SUITE_P(Attention, EveryKind, ::testing::ValuesIn(Kinds()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
}  // namespace gwo::attention
