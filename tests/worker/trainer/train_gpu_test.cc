// The CUDA paths of the training step against their references, on a GPU (label gpu):
// the softmax cross-entropy kernel inside the chunked LM-head loss over a grid of
// shapes, the fused AdamW against torch::optim::AdamW, a CUDA-graph step against the
// eager step, and a bf16 run of GPT-2 at 1024 tokens tracking the fp32 run.
#include <torch/torch.h>

#include <cmath>
#include <cstdio>

#include "gtest/gtest.h"
#include "worker/models/gpt2.h"
#include "worker/models/residual_layer_norm.h"
#include "worker/trainer/learner.h"
#include "worker/trainer/lm_head_loss.h"
#include "worker/trainer/optimization.h"
#include "worker/trainer/optimizer_step.h"
#include "worker/trainer/precision.h"
#include "worker/trainer/step_graph.h"

namespace gwo::trainer {
namespace {

const torch::Device kCuda(torch::kCUDA, 0);

class TrainGpu : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(torch::cuda::is_available()) << "the gpu tests need a CUDA device";
    ConfigureMatmul(Precision::kFp32);  // exact float32 references
  }
};

std::shared_ptr<models::CausalLm> TinyGpt2(int vocab, int layers, int width, int block, uint64_t seed) {
  spec::ModelSpec shape;
  shape.n_layer = layers;
  shape.n_head = std::max(1, width / 64);
  shape.n_embd = width;
  shape.block_size = block;
  torch::manual_seed(seed);
  auto model = std::shared_ptr<models::CausalLm>(models::MakeGpt2(shape, {}, vocab)->ptr());
  model->to(kCuda);
  return model;
}

// Tolerances: float32 logits agree to rounding (1e-4 relative); bf16/fp16 round the
// matmul inputs and the logits' gradient to 8 (11) mantissa bits in both paths, but at
// different places (the reference rounds the float32 softmax gradient once, the
// kernel rounds it once too, from a float32 value it computed itself), so 2e-2.
TEST_F(TrainGpu, ChunkedLmHeadLossMatchesTheReferenceOverAGridOfShapes) {
  struct Case {
    int64_t N, C, V, chunk;
    torch::Dtype dtype;
  };
  const std::vector<Case> cases = {
      {1, 64, 50257, 0, torch::kFloat},     {300, 768, 50257, 0, torch::kBFloat16},
      {1000, 128, 1000, 7, torch::kBFloat16}, {64, 256, 151936, 0, torch::kBFloat16},
      {17, 64, 130, 5, torch::kFloat},       {257, 64, 5000, 64, torch::kHalf},
      {2048, 768, 50257, 0, torch::kBFloat16}, {33, 32, 127, 0, torch::kBFloat16}};
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << "N=" << c.N << " C=" << c.C << " V=" << c.V << " chunk=" << c.chunk
                                    << " dtype=" << c.dtype);
    torch::manual_seed(c.N + c.V);
    const auto f32 = torch::TensorOptions().device(kCuda);
    const torch::Tensor h0 = torch::randn({c.N, c.C}, f32), w0 = torch::randn({c.V, c.C}, f32) * 0.05;
    torch::Tensor t = torch::randint(0, c.V, {c.N}, f32.dtype(torch::kLong));
    if (c.N > 3) t.index_put_({torch::indexing::Slice(1, c.N, 4)}, -100);
    auto run = [&](bool chunked) {
      torch::Tensor h = h0.clone().requires_grad_(true), w = w0.clone().requires_grad_(true);
      const torch::Tensor loss = chunked ? ChunkedLmHeadLoss(h, w, t, c.dtype, c.chunk)
                                         : ReferenceLmHeadLoss(h, w, t, c.dtype);
      loss.backward();
      return std::tuple{loss.item<double>(), h.grad(), w.grad()};
    };
    const auto [l_ref, gh_ref, gw_ref] = run(false);
    const auto [l, gh, gw] = run(true);
    const double tol = c.dtype == torch::kFloat ? 1e-4 : 2e-2;
    EXPECT_NEAR(l, l_ref, tol * std::abs(l_ref));
    const double gh_scale = gh_ref.abs().max().item<double>(), gw_scale = gw_ref.abs().max().item<double>();
    EXPECT_LE((gh - gh_ref).abs().max().item<double>(), tol * gh_scale);
    EXPECT_LE((gw - gw_ref).abs().max().item<double>(), tol * gw_scale);
  }
}

TEST_F(TrainGpu, DistillKernelMatchesTheReferenceOverAGridOfShapes) {
  struct Case {
    int64_t N, C, V, chunk;
    double tau;
    torch::Dtype dtype;
  };
  const std::vector<Case> cases = {{300, 768, 50257, 0, 1.0, torch::kBFloat16},
                                   {64, 128, 1000, 7, 2.0, torch::kFloat},
                                   {129, 64, 5000, 0, 0.5, torch::kHalf},
                                   {33, 32, 130, 8, 1.0, torch::kBFloat16}};
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << "N=" << c.N << " C=" << c.C << " V=" << c.V << " tau=" << c.tau
                                    << " dtype=" << c.dtype);
    torch::manual_seed(c.N + c.V);
    const auto f32 = torch::TensorOptions().device(kCuda);
    const torch::Tensor h0 = torch::randn({c.N, c.C}, f32), w0 = torch::randn({c.V, c.C}, f32) * 0.05;
    const torch::Tensor teacher = (torch::randn({c.N, c.V}, f32) * 2).to(c.dtype);
    torch::Tensor t = torch::randint(0, c.V, {c.N}, f32.dtype(torch::kLong));
    if (c.N > 3) t.index_put_({torch::indexing::Slice(2, c.N, 5)}, -100);
    auto run = [&](bool chunked) {
      torch::Tensor h = h0.clone().requires_grad_(true), w = w0.clone().requires_grad_(true);
      auto [lm, kl] = chunked ? DistillLmHeadLoss(h, w, t, teacher, c.tau, c.dtype, c.chunk)
                              : ReferenceDistillLmHeadLoss(h, w, t, teacher, c.tau, c.dtype);
      (lm + kl * 0.5).backward();
      return std::tuple{lm.item<double>(), kl.item<double>(), h.grad(), w.grad()};
    };
    const auto [lm_ref, kl_ref, gh_ref, gw_ref] = run(false);
    const auto [lm, kl, gh, gw] = run(true);
    const double tol = c.dtype == torch::kFloat ? 1e-4 : 2e-2;
    EXPECT_NEAR(lm, lm_ref, tol * std::abs(lm_ref));
    EXPECT_NEAR(kl, kl_ref, tol * std::max(1.0, std::abs(kl_ref)));
    EXPECT_LE((gh - gh_ref).abs().max().item<double>(), tol * gh_ref.abs().max().item<double>());
    EXPECT_LE((gw - gw_ref).abs().max().item<double>(), tol * gw_ref.abs().max().item<double>());
  }
}

// The residual + LayerNorm kernels against the reference (values and the gradients of
// x, delta, weight and bias). Tolerances: float32 1e-5 relative (one rounding order
// against another); bf16/fp16 outputs: one rounding of the output (2^-8 relative), so
// 1e-2 of the largest value; the float32 gradients of x, weight and bias 1e-3 (they sum
// over rows in another order).
TEST_F(TrainGpu, ResidualLayerNormKernelsMatchTheReferenceOverAGridOfShapes) {
  struct Case {
    int64_t N, C;
    torch::Dtype dtype;
  };
  for (const Case& c : {Case{16384, 768, torch::kBFloat16}, Case{33, 1024, torch::kFloat}, Case{7, 100, torch::kHalf},
                        Case{1000, 2048, torch::kBFloat16}, Case{5, 8192, torch::kBFloat16}, Case{64, 1600, torch::kFloat}}) {
    SCOPED_TRACE(testing::Message() << "N=" << c.N << " C=" << c.C << " dtype=" << c.dtype);
    torch::manual_seed(c.N + c.C);
    torch::nn::LayerNorm ln(torch::nn::LayerNormOptions({c.C}).eps(1e-5));
    ln->to(kCuda);
    {
      torch::NoGradGuard no_grad;
      ln->weight.normal_(1.0, 0.2);
      ln->bias.normal_(0.0, 0.2);
    }
    const auto f32 = torch::TensorOptions().device(kCuda);
    const torch::Tensor x0 = torch::randn({c.N, c.C}, f32) * 3, d0 = torch::randn({c.N, c.C}, f32).to(c.dtype);
    const torch::Tensor g_sum = torch::randn({c.N, c.C}, f32), g_out = torch::randn({c.N, c.C}, f32).to(c.dtype);
    auto run = [&](bool fused) {
      torch::Tensor x = x0.clone().requires_grad_(true), d = d0.clone().requires_grad_(true);
      for (auto& p : ln->parameters()) p.mutable_grad() = torch::Tensor();
      const models::ResidualNormed r = fused ? models::ResidualLayerNorm(x, d, ln, c.dtype)
                                             : models::ReferenceResidualLayerNorm(x, d, ln, c.dtype);
      torch::autograd::backward({r.sum, r.normed}, {g_sum, g_out});
      return std::vector<torch::Tensor>{r.sum.detach(), r.normed.detach().to(torch::kFloat), x.grad(),
                                        d.grad().to(torch::kFloat), ln->weight.grad().clone(), ln->bias.grad().clone()};
    };
    ASSERT_TRUE(models::FusedResidualLayerNormRuns(x0, d0));
    const auto ref = run(false), got = run(true);
    const char* names[] = {"sum", "normed", "grad x", "grad delta", "grad weight", "grad bias"};
    const bool low = c.dtype != torch::kFloat;
    const double tols[] = {1e-6, low ? 1e-2 : 1e-5, 1e-3, low ? 1e-2 : 1e-3, 1e-3, 1e-3};
    for (size_t i = 0; i < ref.size(); ++i) {
      const double scale = std::max(1.0, ref[i].abs().max().item<double>());
      EXPECT_LE((got[i] - ref[i]).abs().max().item<double>(), tols[i] * scale) << names[i];
    }
  }
}

TEST_F(TrainGpu, ResidualRmsNormKernelsMatchTheReference) {
  for (const auto& [N, C, dtype] : {std::tuple{16384, 1024, torch::kBFloat16}, std::tuple{37, 128, torch::kFloat},
                                     std::tuple{300, 3000, torch::kHalf}}) {
    SCOPED_TRACE(testing::Message() << "N=" << N << " C=" << C << " dtype=" << dtype);
    torch::manual_seed(N + C);
    const auto f32 = torch::TensorOptions().device(kCuda);
    const torch::Tensor w0 = torch::randn({C}, f32) * 0.3 + 1;
    const torch::Tensor x0 = torch::randn({N, C}, f32) * 3, d0 = torch::randn({N, C}, f32).to(dtype);
    const torch::Tensor g_sum = torch::randn({N, C}, f32), g_out = torch::randn({N, C}, f32).to(dtype);
    auto run = [&](bool fused) {
      torch::Tensor x = x0.clone().requires_grad_(true), d = d0.clone().requires_grad_(true);
      torch::Tensor w = w0.clone().requires_grad_(true);
      const models::ResidualNormed r = fused ? models::ResidualRmsNorm(x, d, w, 1e-6, dtype)
                                             : models::ReferenceResidualRmsNorm(x, d, w, 1e-6, dtype);
      torch::autograd::backward({r.sum, r.normed}, {g_sum, g_out});
      return std::vector<torch::Tensor>{r.sum.detach(), r.normed.detach().to(torch::kFloat), x.grad(),
                                        d.grad().to(torch::kFloat), w.grad()};
    };
    const auto ref = run(false), got = run(true);
    const bool low = dtype != torch::kFloat;
    const double tols[] = {1e-6, low ? 1e-2 : 1e-5, 1e-3, low ? 1e-2 : 1e-3, 1e-3};
    for (size_t i = 0; i < ref.size(); ++i) {
      const double scale = std::max(1.0, ref[i].abs().max().item<double>());
      EXPECT_LE((got[i] - ref[i]).abs().max().item<double>(), tols[i] * scale) << "output " << i;
    }
  }
}

TEST_F(TrainGpu, Gpt2ThroughTheFusedResidualNormMatchesTheBlockByBlockForward) {
  for (const bool bf16 : {false, true}) {
    auto a = TinyGpt2(500, 3, 128, 64, 3), b = TinyGpt2(500, 3, 128, 64, 3);
    a->set_residual_norm_path(models::ResidualNormPath::kNever);
    b->set_residual_norm_path(models::ResidualNormPath::kAuto);
    const torch::Tensor x = torch::randint(0, 500, {4, 64}, torch::TensorOptions().dtype(torch::kLong).device(kCuda));
    torch::Tensor la, lb;
    {
      AutocastScope scope(bf16 ? Precision::kBf16 : Precision::kFp32, kCuda);
      la = a->forward(x).to(torch::kFloat);
      lb = b->forward(x).to(torch::kFloat);
    }
    const double tol = bf16 ? 3e-2 : 1e-4;
    EXPECT_LE((la - lb).abs().max().item<double>(), tol * la.abs().max().item<double>()) << "bf16 " << bf16;
    la.square().mean().backward();
    lb.square().mean().backward();
    auto pa = a->named_parameters(), pb = b->named_parameters();
    for (const auto& item : pa) {
      const torch::Tensor ga = item.value().grad(), gb = pb[item.key()].grad();
      EXPECT_LE((ga - gb).abs().max().item<double>(), 5 * tol * std::max(1e-6, ga.abs().max().item<double>()))
          << item.key() << " bf16 " << bf16;
    }
  }
}

TEST_F(TrainGpu, FusedAdamWMatchesTorchAdamWAndSkipsOverflowSteps) {
  auto a = TinyGpt2(300, 2, 64, 32, 7), b = TinyGpt2(300, 2, 64, 32, 7);
  spec::TrainingSpec training;
  training.lr = 3e-3;
  auto opt_a = MakeAdamW(*a, training), opt_b = MakeAdamW(*b, training);
  AdamWUpdate fused(opt_a.get());
  ASSERT_TRUE(fused.fused());
  const torch::Tensor x = torch::randint(0, 300, {4, 32}, torch::TensorOptions().dtype(torch::kLong).device(kCuda));
  for (int step = 0; step < 6; ++step) {
    for (auto* m : {a.get(), b.get()}) LanguageModelLoss(m->forward(x), x).backward();
    const bool overflow = step == 3;
    fused.LoadLearningRates();
    fused.Step(torch::full({1}, overflow ? 1.0 : 0.0, torch::TensorOptions().device(kCuda)));
    if (!overflow) opt_b->step();
    for (auto* m : {a.get(), b.get()}) ZeroGradients(m->parameters());
  }
  auto pa = a->parameters(), pb = b->parameters();
  for (size_t i = 0; i < pa.size(); ++i) {
    EXPECT_TRUE(torch::allclose(pa[i], pb[i], 1e-5, 1e-6)) << i << ": " << (pa[i] - pb[i]).abs().max();
  }
  fused.SyncState();
  for (const auto& [key, state] : opt_a->state()) {
    EXPECT_EQ(static_cast<torch::optim::AdamWParamState&>(*state).step(), 5);
  }
}

TEST_F(TrainGpu, CudaGraphStepComputesWhatTheEagerStepComputes) {
  spec::TrainingSpec training;
  training.precision = "bf16";
  training.lr = 1e-3;
  training.micro_batch_size = 2;
  auto eager_model = TinyGpt2(500, 2, 128, 64, 11), graph_model = TinyGpt2(500, 2, 128, 64, 11);
  auto eager = *MakeLearner(eager_model, training, training.optimizer, "");
  auto graphed = *MakeLearner(graph_model, training, training.optimizer, "");
  spec::RunSpec run;
  run.training = training;
  ASSERT_FALSE(StepGraphUnsupported(*graphed, run, false, false).has_value());
  StepGraph graph(*graphed, training);
  const auto longs = torch::TensorOptions().dtype(torch::kLong).device(kCuda);
  for (int step = 0; step < 6; ++step) {
    const torch::Tensor x = torch::randint(0, 500, {4, 64}, longs), y = torch::randint(0, 500, {4, 64}, longs);
    const double lr = training.lr * (step + 1) / 6.0;
    const double l_eager = eager->Step(x, y, {}, training, lr).total.item<double>();
    const double l_graph = graph.Step(x, y, lr).total.item<double>();
    EXPECT_NEAR(l_graph, l_eager, 1e-3 * l_eager) << "step " << step;
  }
  EXPECT_TRUE(graph.captured());
  auto pe = eager_model->parameters(), pg = graph_model->parameters();
  for (size_t i = 0; i < pe.size(); ++i) {
    EXPECT_TRUE(torch::allclose(pg[i], pe[i], 1e-3, 1e-4)) << i << ": " << (pg[i] - pe[i]).abs().max();
  }
}

// A first-order Markov source over 256 symbols, 4 successors per symbol: learnable
// (entropy at most log 4 = 1.39 nats) and generated here, so the test needs no corpus.
torch::Tensor MarkovTokens(int64_t n, uint64_t seed) {
  torch::manual_seed(seed);
  const torch::Tensor table = torch::randint(0, 256, {256, 4}, torch::kLong);
  const torch::Tensor choice = torch::randint(0, 4, {n}, torch::kLong);
  std::vector<int64_t> out(n);
  out[0] = 1;
  auto t = table.accessor<int64_t, 2>();
  auto c = choice.accessor<int64_t, 1>();
  for (int64_t i = 1; i < n; ++i) out[i] = t[out[i - 1]][c[i]];
  return torch::tensor(out, torch::kLong);
}

// The bf16 curve tracks the fp32 curve of the same spec (GPT-2 small shape, 1024
// tokens, 300 steps, batch 8, lr 6e-4 with warmup). Tolerance: every 50-step window's
// mean loss within 2% of fp32's. Why 2%: with float32 master weights and optimizer
// state, bf16 only rounds each matmul's inputs (8 mantissa bits, relative 2^-9); those
// errors are unbiased and average out over the 8192 tokens of a step, so the curves
// differ by step-to-step noise of the order of the loss's own batch-to-batch spread
// (about 1% here), not by a drift; a real precision bug (fp16 overflow, a loss in bf16)
// shows as a gap of 5-50%.
TEST_F(TrainGpu, Bf16LossCurveTracksFp32OverThreeHundredStepsOfGpt2) {
  const torch::Tensor tokens = MarkovTokens(8 * 1025 * 40, 5).to(kCuda);
  std::vector<std::vector<double>> curves;
  for (const std::string precision : {"fp32", "bf16"}) {
    spec::ModelSpec shape;  // GPT-2 small, 1024 positions, byte vocabulary
    shape.n_layer = 12;
    shape.n_head = 12;
    shape.n_embd = 768;
    shape.block_size = 1024;
    torch::manual_seed(1);
    auto model = std::shared_ptr<models::CausalLm>(models::MakeGpt2(shape, {}, 256)->ptr());
    model->to(kCuda);
    spec::TrainingSpec training;
    training.precision = precision;
    training.lr = 6e-4;
    auto learner = *MakeLearner(model, training, training.optimizer, "");
    ConfigureMatmul(learner->precision);
    std::vector<double> curve;
    for (int step = 0; step < 300; ++step) {
      const int64_t base = (step % 40) * 8 * 1025;
      const torch::Tensor rows = tokens.narrow(0, base, 8 * 1025).view({8, 1025});
      const torch::Tensor x = rows.narrow(1, 0, 1024), y = rows.narrow(1, 1, 1024);
      const double lr = 6e-4 * std::min(1.0, (step + 1) / 30.0);
      curve.push_back(learner->Step(x.contiguous(), y.contiguous(), {}, training, lr).total.item<double>());
    }
    curves.push_back(curve);
  }
  ConfigureMatmul(Precision::kFp32);
  for (int w = 0; w < 6; ++w) {
    double fp32 = 0, bf16 = 0;
    for (int i = w * 50; i < (w + 1) * 50; ++i) {
      fp32 += curves[0][i] / 50;
      bf16 += curves[1][i] / 50;
    }
    std::printf("steps %3d-%3d: fp32 %.4f bf16 %.4f (%.2f%%)\n", w * 50 + 1, (w + 1) * 50, fp32, bf16,
                100 * (bf16 - fp32) / fp32);
    EXPECT_NEAR(bf16, fp32, 0.02 * fp32) << "window " << w;
  }
  EXPECT_LT(curves[1].back(), 3.0);  // it learns the source (uniform would be 5.55)
}

}  // namespace
}  // namespace gwo::trainer
