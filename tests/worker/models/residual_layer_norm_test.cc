// The fused residual + LayerNorm / RMSNorm op's reference paths and GPT-2's and Qwen3's forward through them
// (ResidualNormPath::kAlways) against the block-by-block forward, on CPU; the CUDA
// kernels are checked against the same reference by gwo_train_gpu_test.
#include "worker/models/residual_layer_norm.h"

#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include "gtest/gtest.h"
#include "worker/models/autocast_state.h"
#include "worker/models/gpt2.h"
#include "worker/models/model.h"
#include "worker/models/qwen3.h"

namespace gwo::models {
namespace {

TEST(ResidualLayerNorm, ReferenceIsTheAddThenTheNormInTheAskedDtype) {
  torch::manual_seed(2);
  torch::nn::LayerNorm ln(torch::nn::LayerNormOptions({16}));
  const torch::Tensor x = torch::randn({3, 5, 16}), delta = torch::randn({3, 5, 16});
  const ResidualNormed r = ResidualLayerNorm(x, delta.to(torch::kBFloat16), ln, torch::kBFloat16);
  EXPECT_EQ(r.sum.scalar_type(), torch::kFloat);
  EXPECT_EQ(r.normed.scalar_type(), torch::kBFloat16);
  const torch::Tensor sum = x + delta.to(torch::kBFloat16).to(torch::kFloat);
  EXPECT_TRUE(r.sum.equal(sum));
  EXPECT_TRUE(r.normed.equal(ln(sum).to(torch::kBFloat16)));
  EXPECT_FALSE(FusedResidualLayerNormRuns(x, delta));  // CPU: the reference runs
}

TEST(ResidualRmsNorm, ReferenceIsQwen3sRmsNormOfTheSum) {
  torch::manual_seed(4);
  RmsNorm norm(16, 1e-6);
  {
    torch::NoGradGuard no_grad;
    norm->weight.normal_(1.0, 0.3);
  }
  const torch::Tensor x = torch::randn({2, 3, 16}), delta = torch::randn({2, 3, 16});
  const ResidualNormed r = ResidualRmsNorm(x, delta, norm->weight, norm->eps(), torch::kFloat);
  EXPECT_TRUE(r.sum.equal(x + delta));
  EXPECT_TRUE(torch::allclose(r.normed, norm(x + delta), 1e-6, 1e-7));
}

// GPT-2 and Qwen3 through the paired ops compute what the block-by-block forward
// computes: the same ops in the same order, so the outputs agree exactly (and the
// gradients too, but for the bf16 summation noted below).
void ExpectPathsAgree(const std::string& arch, bool bf16_autocast) {
  spec::ModelSpec shape;
  shape.arch = arch;
  shape.n_layer = 3;
  shape.n_head = 2;
  shape.n_embd = 32;
  shape.block_size = 16;
  if (arch == "qwen3") {
    shape.n_kv_head = 1;
    shape.head_dim = 16;
    shape.intermediate_size = 48;
  }
  torch::manual_seed(7);
  std::shared_ptr<CausalLm> a = *MakeModel(shape, {}, 64);
  torch::manual_seed(7);
  std::shared_ptr<CausalLm> b = *MakeModel(shape, {}, 64);
  a->set_residual_norm_path(ResidualNormPath::kNever);
  b->set_residual_norm_path(ResidualNormPath::kAlways);
  const torch::Tensor idx = torch::randint(0, 64, {2, 16}, torch::kLong);
  torch::Tensor la, lb;
  {
    if (bf16_autocast) {
      SetAutocastEnabled(false, true);
      SetAutocastDtype(false, torch::kBFloat16);
    }
    la = a->forward(idx).to(torch::kFloat);
    lb = b->forward(idx).to(torch::kFloat);
    if (bf16_autocast) {
      SetAutocastEnabled(false, false);
      at::autocast::clear_cache();
    }
  }
  EXPECT_TRUE(la.equal(lb)) << arch << ": " << (la - lb).abs().max();
  la.square().mean().backward();
  lb.square().mean().backward();
  auto pa = a->named_parameters(), pb = b->named_parameters();
  for (const auto& item : pa) {
    const torch::Tensor& ga = item.value().grad();
    const torch::Tensor& gb = pb[item.key()].grad();
    ASSERT_TRUE(ga.defined() && gb.defined()) << item.key();
    // Under bf16 autocast the paired path casts a norm's output once, so where several
    // matmuls read it (Qwen3's q/k/v and gate/up projections) their gradients are summed
    // in bf16 before the norm's backward, not in float32 as after autocast's per-matmul
    // casts: agreement to bf16's precision (2^-8) then, exact otherwise.
    const double tol = bf16_autocast ? 1e-2 * ga.abs().max().item<double>() : 1e-7;
    EXPECT_LE((ga - gb).abs().max().item<double>(), bf16_autocast ? tol : 1e-5 * ga.abs().max().item<double>() + tol)
        << arch << " " << item.key();
  }
}

TEST(ResidualLayerNorm, Gpt2AndQwen3ThroughItEqualTheBlockByBlockForward) {
  ExpectPathsAgree("gpt2", false);
  ExpectPathsAgree("qwen3", false);
}

TEST(ResidualLayerNorm, Gpt2AndQwen3ThroughItEqualTheBlockByBlockForwardUnderBf16Autocast) {
  ExpectPathsAgree("gpt2", true);
  ExpectPathsAgree("qwen3", true);
}

}  // namespace
}  // namespace gwo::models
