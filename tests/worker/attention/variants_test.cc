// The defining property of each attention variant, checked against an independent
// dense computation.
#include <torch/torch.h>

#include <cmath>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/worker/attention/test_util.h"
#include "worker/attention/learned_mask.h"
#include "worker/attention/linear.h"
#include "worker/attention/mask_mixture.h"
#include "worker/attention/nsa.h"
#include "worker/attention/performer.h"
#include "worker/attention/standard.h"

namespace gwo::attention {
namespace {

using ::testing::HasSubstr;
using testing::Causal;
using testing::kDims;
using testing::Make;
using testing::NaiveMasked;
using testing::Qkv;
using testing::RandomQkv;
using testing::SmallSpec;

class Variants : public ::testing::Test {
 protected:
  Variants() {
    torch::manual_seed(11);
    x_ = RandomQkv();
  }
  Qkv x_;
  torch::Tensor Standard() { return NaiveMasked(x_, Causal(8)); }
  torch::Tensor Run(const spec::AttentionSpec& s) {
    std::shared_ptr<Attention> a = Make(s);
    a->eval();
    return a->forward(x_.q, x_.k, x_.v);
  }
  // Sets every parameter whose name ends with `suffix` to `value`.
  static void Fill(Attention& a, const std::string& suffix, double value) {
    torch::NoGradGuard no_grad;
    bool found = false;
    for (auto& item : a.named_parameters()) {
      if (item.key().size() >= suffix.size() &&
          item.key().compare(item.key().size() - suffix.size(), suffix.size(), suffix) == 0) {
        item.value().fill_(value);
        found = true;
      }
    }
    ASSERT_TRUE(found) << suffix;
  }
};

TEST_F(Variants, SlidingWindowIsStandardWithTheBandMask) {
  const torch::Tensor t = torch::arange(8).unsqueeze(1), s = torch::arange(8).unsqueeze(0);
  const torch::Tensor band = (s <= t) & ((t - s < 3) | (s < 1));  // window 3, 1 sink
  EXPECT_TRUE(torch::allclose(Run(SmallSpec("sliding_window")), NaiveMasked(x_, band), 1e-5, 1e-6));
  spec::AttentionSpec wide = SmallSpec("sliding_window");
  wide.sliding_window = {.window = 8, .sink_tokens = 0};
  EXPECT_TRUE(torch::allclose(Run(wide), Standard(), 1e-5, 1e-6));
  wide.sliding_window.window = 100;
  EXPECT_TRUE(torch::allclose(Run(wide), Standard(), 1e-5, 1e-6));
}

TEST_F(Variants, FactorizedWithClosedGatesIsStandard) {
  std::shared_ptr<Attention> a = Make(SmallSpec("factorized"));
  a->eval();
  EXPECT_FALSE(torch::allclose(a->forward(x_.q, x_.k, x_.v), Standard(), 1e-3, 1e-4));
  Fill(*a, "alpha_q", -std::numeric_limits<double>::infinity());
  Fill(*a, "alpha_k", -std::numeric_limits<double>::infinity());
  EXPECT_TRUE(torch::allclose(a->forward(x_.q, x_.k, x_.v), Standard(), 1e-5, 1e-6));
  // The temperature divides the energies: log_temperature = log 2 halves them.
  Fill(*a, "log_temperature", std::log(2.0));
  const Qkv half{x_.q / 2, x_.k, x_.v};
  EXPECT_TRUE(torch::allclose(a->forward(x_.q, x_.k, x_.v), NaiveMasked(half, Causal(8)), 1e-5, 1e-6));
}

TEST_F(Variants, MaskMixtureWithAllWeightOnOneMaskIsThatMask) {
  spec::AttentionSpec s = SmallSpec("mask_mixture");  // bank: causal, w2, w4, stride 3, sinks 1
  auto a = std::dynamic_pointer_cast<MaskMixtureAttention>(Make(s));
  ASSERT_NE(a, nullptr);
  a->eval();
  const torch::Tensor bank = a->Bank(8, torch::kCPU);
  ASSERT_EQ(bank.size(0), 5);
  const torch::Tensor t = torch::arange(8).unsqueeze(1), sp = torch::arange(8).unsqueeze(0);
  const torch::Tensor expected[] = {sp <= t, (sp <= t) & (t - sp < 2), (sp <= t) & (t - sp < 4),
                                    (sp <= t) & ((t - sp) % 3 == 0),
                                    (sp <= t) & ((sp < 1) | (sp == t))};
  for (int m = 0; m < 5; ++m) {
    EXPECT_TRUE(torch::equal(bank[m].to(torch::kBool), expected[m])) << m;
    torch::NoGradGuard no_grad;
    for (auto& item : a->named_parameters()) {
      item.value().fill_(-std::numeric_limits<double>::infinity());
      item.value().index_put_({torch::indexing::Slice(), m}, 0.0);
    }
    EXPECT_TRUE(torch::allclose(a->forward(x_.q, x_.k, x_.v), NaiveMasked(x_, expected[m]), 1e-5, 1e-6))
        << "mask " << m;
  }
  s.mask_mixture.per = "layer";
  auto per_layer = Make(s);
  EXPECT_EQ(per_layer->named_parameters()["mix_logits"].sizes(), (std::vector<int64_t>{1, 5}));
}

TEST_F(Variants, LearnedMaskKeepingEveryBlockIsStandard) {
  spec::AttentionSpec s = SmallSpec("learned_mask");
  s.learned_mask.top_k = 4;  // >= the 4 blocks of T = 8
  EXPECT_TRUE(torch::allclose(Run(s), Standard(), 1e-5, 1e-6));
  // top_k 1: a query sees its own block and at most one earlier block.
  std::shared_ptr<Attention> a = Make(SmallSpec("learned_mask"));
  a->eval();
  a->set_capture(true);
  a->forward(x_.q, x_.k, x_.v);
  const torch::Tensor blocks_seen =
      (a->captured().probs.view({2, 2, 8, 4, 2}).sum(-1) > 0).sum(-1);  // (B, nh, T)
  EXPECT_LE(blocks_seen.max().item<int64_t>(), 2);
  EXPECT_EQ(blocks_seen.index({torch::indexing::Slice(), torch::indexing::Slice(), 7}).min().item<int64_t>(), 2);
  // The soft relaxation weights kept blocks by their gate: a different output.
  s.learned_mask.relaxation = "soft";
  EXPECT_FALSE(torch::allclose(Run(s), Standard(), 1e-4, 1e-5));
}

TEST_F(Variants, PerformerApproachesSoftmaxAsFeaturesGrow) {
  x_ = RandomQkv(2, 8, /*q_scale=*/0.4);  // small energies: low estimator variance
  auto error = [&](int features) {
    double total = 0;
    for (int seed = 0; seed < 4; ++seed) {
      torch::manual_seed(100 + seed);
      spec::AttentionSpec s = SmallSpec("performer");
      s.performer.features = features;
      total += (Run(s) - Standard()).abs().mean().item<double>();
    }
    return total / 4;
  };
  // Monte-Carlo error shrinks like 1 / sqrt(features).
  const double few = error(4), some = error(256), many = error(4096);
  EXPECT_LT(some, few / 2) << "4 features: " << few << ", 256: " << some;
  EXPECT_LT(many, some * 0.75) << "256 features: " << some << ", 4096: " << many;
  EXPECT_LT(many, 0.03) << "mean |performer - softmax| with 4096 features";
}

TEST_F(Variants, PerformerRedrawsEveryIntervalTrainingCalls) {
  spec::AttentionSpec s = SmallSpec("performer");
  s.performer.redraw_interval = 2;
  std::shared_ptr<Attention> a = Make(s);
  const torch::Tensor first = a->named_buffers()["omega"].clone();
  a->train();
  a->forward(x_.q, x_.k, x_.v);
  a->forward(x_.q, x_.k, x_.v);
  EXPECT_TRUE(torch::equal(a->named_buffers()["omega"], first));
  a->eval();
  a->forward(x_.q, x_.k, x_.v);  // eval calls do not count
  a->train();
  a->forward(x_.q, x_.k, x_.v);  // the third training call redraws
  EXPECT_FALSE(torch::equal(a->named_buffers()["omega"], first));
  // Rows of each block of hd are orthogonal.
  const torch::Tensor omega = a->named_buffers()["omega"].narrow(0, 0, 4);
  const torch::Tensor gram = torch::matmul(omega, omega.t());
  EXPECT_TRUE(torch::allclose(gram - torch::diag(torch::diag(gram)), torch::zeros({4, 4}), 1e-4, 1e-4));
}

TEST_F(Variants, NsaWithEveryBlockSelectedAndFullWindowIsItsDenseForm) {
  spec::AttentionSpec s = SmallSpec("nsa");
  s.nsa.selected_blocks = 4;
  s.nsa.window = 8;
  auto a = std::dynamic_pointer_cast<NsaAttention>(Make(s));
  a->eval();
  const NsaBranches b = a->Branches(x_.q, x_.k, x_.v, /*with_probs=*/false);
  EXPECT_TRUE(torch::allclose(b.selected, Standard(), 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(b.window, Standard(), 1e-5, 1e-6));
  // Compressed blocks start as mean pooling: block i = keys [i, i + 2) (stride 1).
  const torch::Tensor kc = (x_.k.narrow(2, 0, 7) + x_.k.narrow(2, 1, 7)) / 2;  // (B, nh, 7, hd)
  const torch::Tensor vc = (x_.v.narrow(2, 0, 7) + x_.v.narrow(2, 1, 7)) / 2;
  const torch::Tensor complete = torch::arange(7).unsqueeze(0) + 1 <= torch::arange(8).unsqueeze(1);  // (T, 7)
  const torch::Tensor pc = torch::softmax(
      (torch::matmul(x_.q, kc.transpose(-2, -1)) / 2).masked_fill(complete.logical_not(), -INFINITY), -1);
  const torch::Tensor compressed = torch::matmul(pc, vc).index_put_({torch::indexing::Slice(), torch::indexing::Slice(), 0}, 0.0);
  EXPECT_TRUE(torch::allclose(b.compressed, compressed, 1e-5, 1e-6));
  const torch::Tensor g = b.gates;
  const torch::Tensor dense = g.narrow(-1, 0, 1) * compressed + (g.narrow(-1, 1, 1) + g.narrow(-1, 2, 1)) * Standard();
  EXPECT_TRUE(torch::allclose(a->forward(x_.q, x_.k, x_.v), dense, 1e-5, 1e-6));
}

TEST_F(Variants, NsaSelectsTheMostImportantBlocks) {
  auto a = std::dynamic_pointer_cast<NsaAttention>(Make(SmallSpec("nsa")));  // 2 of 4 blocks
  a->eval();
  const NsaBranches b = a->Branches(x_.q, x_.k, x_.v, /*with_probs=*/false);
  EXPECT_FALSE(torch::allclose(b.selected, Standard(), 1e-4, 1e-5));
  // Queries in the first two blocks see all their past: selection changes nothing.
  const auto first = torch::indexing::Slice(0, 4);
  using torch::indexing::Slice;
  EXPECT_TRUE(torch::allclose(b.selected.index({Slice(), Slice(), first}),
                              Standard().index({Slice(), Slice(), first}), 1e-5, 1e-6));
}

TEST_F(Variants, NsaAndLearnedMaskExplainBlocksLongerThanTheContext) {
  spec::AttentionSpec s = SmallSpec("nsa");
  s.nsa.block = 16;
  s.nsa.stride = 16;
  std::optional<std::string> why = Make(s)->Unsupported(torch::kCPU, torch::kFloat32, 8);
  ASSERT_TRUE(why.has_value());
  EXPECT_THAT(*why, HasSubstr("attention.block (16) exceeds the model's block_size (8)"));
  s = SmallSpec("learned_mask");
  s.learned_mask.block = 9;
  why = Make(s)->Unsupported(torch::kCPU, torch::kFloat32, 8);
  ASSERT_TRUE(why.has_value());
  EXPECT_THAT(*why, HasSubstr("attention.block (9)"));
}

TEST_F(Variants, LinearEqualsItsClosedForm) {
  for (const std::string normalize : {"count", "none"}) {
    spec::AttentionSpec s = SmallSpec("linear");
    s.linear.normalize = normalize;
    // out_t = c_t sum_{s <= t} (q_t . k_s / sqrt(hd)) v_s, one query at a time.
    torch::Tensor expected = torch::zeros_like(x_.v);
    for (int64_t t = 0; t < 8; ++t) {
      torch::Tensor acc = torch::zeros({2, 2, 4});
      for (int64_t j = 0; j <= t; ++j) {
        acc += (x_.q.select(2, t) * x_.k.select(2, j)).sum(-1, true) / 2 * x_.v.select(2, j);
      }
      expected.select(2, t).copy_(normalize == "count" ? acc / (t + 1) : acc);
    }
    EXPECT_TRUE(torch::allclose(Run(s), expected, 1e-5, 1e-5)) << normalize;
  }
  // Chunked prefix sums across several chunks (T = 150 > the 64-query chunk).
  const AttentionDims long_dims{.n_head = 2, .head_dim = 4, .block_size = 150};
  auto a = std::dynamic_pointer_cast<LinearAttention>(Make(SmallSpec("linear"), long_dims));
  const Qkv y = RandomQkv(1, 150);
  EXPECT_TRUE(torch::allclose(a->forward(y.q, y.k, y.v), torch::matmul(a->Weights(y.q, y.k), y.v),
                              1e-4, 1e-5));
}

TEST_F(Variants, NaturalAlwaysKeepsItsEnergies) {
  std::shared_ptr<Attention> a = Make(SmallSpec("natural"));
  a->train();
  const torch::Tensor out = a->forward(x_.q, x_.k, x_.v);
  EXPECT_TRUE(torch::allclose(out, Standard(), 1e-5, 1e-6));
  const AttentionCapture& c = a->captured();
  ASSERT_TRUE(c.scores.defined());  // capture is off
  EXPECT_FALSE(c.probs.defined());
  EXPECT_FALSE(c.scores.requires_grad());
  const torch::Tensor energies = torch::matmul(x_.q, x_.k.transpose(-2, -1)) / 2;
  EXPECT_TRUE(torch::allclose(c.scores.masked_select(Causal(8)), energies.masked_select(Causal(8))));
  StandardAttention standard(kDims);
  standard.set_capture(true);
  standard.forward(x_.q, x_.k, x_.v);
  EXPECT_TRUE(torch::equal(torch::isinf(c.scores), torch::isinf(standard.captured().scores)));
}

}  // namespace
}  // namespace gwo::attention
