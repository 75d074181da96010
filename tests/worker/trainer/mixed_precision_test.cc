// The pieces of the mixed-precision step on CPU: precision resolution, the autocast
// scope, the chunked LM-head loss against its plain reference (values and gradients),
// clipping and the optimizer update's reference path, and a bf16 learner step.
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "worker/models/gpt2.h"
#include "worker/trainer/learner.h"
#include "worker/trainer/lm_head_loss.h"
#include "worker/trainer/optimization.h"
#include "worker/trainer/optimizer_step.h"
#include "worker/trainer/precision.h"
#include "worker/trainer/step_graph.h"
#include "worker/trainer/step_profiler.h"

namespace gwo::trainer {
namespace {

using ::testing::HasSubstr;

// A GPT-2 of `layers` x `width` (2 heads) over `vocab` tokens, block `block`, initialised
// from `seed`.
models::Gpt2 TinyGpt2(int layers, int width, int block, int vocab, uint64_t seed) {
  spec::ModelSpec shape;
  shape.n_layer = layers;
  shape.n_head = 2;
  shape.n_embd = width;
  shape.block_size = block;
  torch::manual_seed(seed);
  return *models::MakeGpt2(shape, {}, vocab);
}

TEST(Precision, AutoIsFp32OnCpuAndFp16AndTf32NeedCuda) {
  const torch::Device cpu(torch::kCPU);
  EXPECT_EQ(*ResolvePrecision("auto", cpu), Precision::kFp32);
  EXPECT_EQ(*ResolvePrecision("fp32", cpu), Precision::kFp32);
  EXPECT_EQ(*ResolvePrecision("bf16", cpu), Precision::kBf16);
  for (const std::string name : {"fp16", "tf32"}) {
    absl::StatusOr<Precision> p = ResolvePrecision(name, cpu);
    ASSERT_FALSE(p.ok());
    EXPECT_THAT(std::string(p.status().message()), HasSubstr("needs a CUDA device"));
  }
  EXPECT_FALSE(ResolvePrecision("fp8", cpu).ok());
  EXPECT_EQ(PrecisionName(Precision::kBf16), "bf16");
  EXPECT_EQ(ComputeDtype(Precision::kFp16), torch::kHalf);
  EXPECT_EQ(ComputeDtype(Precision::kTf32), torch::kFloat);
}

TEST(Precision, Bf16ScopeCastsMatmulsAndEndsWithTheScope) {
  const torch::Tensor a = torch::randn({4, 8}), b = torch::randn({8, 3});
  {
    AutocastScope scope(Precision::kBf16, torch::Device(torch::kCPU));
    EXPECT_EQ(torch::mm(a, b).scalar_type(), torch::kBFloat16);
    {
      AutocastScope fp32(Precision::kFp32, torch::Device(torch::kCPU));  // a no-op scope
      EXPECT_EQ(torch::mm(a, b).scalar_type(), torch::kBFloat16);
    }
  }
  EXPECT_EQ(torch::mm(a, b).scalar_type(), torch::kFloat);
}

TEST(Precision, LossScalerIsInactiveOutsideFp16) {
  LossScaler scaler(Precision::kBf16, torch::Device(torch::kCPU));
  EXPECT_FALSE(scaler.active());
  const torch::Tensor loss = torch::tensor(2.5);
  EXPECT_TRUE(scaler.Scale(loss).equal(loss));
  EXPECT_FALSE(scaler.found_inf().defined());
}

struct LossCase {
  int64_t N, C, V, chunk;
};

// hidden (N, C), weight (V, C), targets with some ignored (-100) positions.
void ExpectChunkedMatchesReference(const LossCase& c, torch::Dtype compute, double tol) {
  torch::manual_seed(c.N * 131 + c.V);
  const torch::Tensor h0 = torch::randn({c.N, c.C}), w0 = torch::randn({c.V, c.C}) * 0.5;
  torch::Tensor t = torch::randint(0, c.V, {c.N}, torch::kLong);
  if (c.N > 2) t.index_put_({torch::indexing::Slice(0, c.N, 3)}, -100);
  auto run = [&](bool chunked) {
    torch::Tensor h = h0.clone().requires_grad_(true), w = w0.clone().requires_grad_(true);
    const torch::Tensor loss = chunked ? ChunkedLmHeadLoss(h, w, t, compute, c.chunk)
                                       : ReferenceLmHeadLoss(h, w, t, compute);
    loss.backward();
    return std::tuple{loss.detach(), h.grad(), w.grad()};
  };
  const auto [l_ref, gh_ref, gw_ref] = run(false);
  const auto [l, gh, gw] = run(true);
  SCOPED_TRACE(testing::Message() << "N=" << c.N << " C=" << c.C << " V=" << c.V << " chunk=" << c.chunk
                                  << " dtype=" << compute);
  EXPECT_NEAR(l.item<double>(), l_ref.item<double>(), tol * std::max(1.0, std::abs(l_ref.item<double>())));
  EXPECT_TRUE(torch::allclose(gh, gh_ref, tol, tol * 1e-2)) << (gh - gh_ref).abs().max();
  EXPECT_TRUE(torch::allclose(gw, gw_ref, tol, tol * 1e-2)) << (gw - gw_ref).abs().max();
}

TEST(LmHeadLoss, ChunkedEqualsTheReferenceInFloat32) {
  for (const LossCase& c : {LossCase{1, 8, 5, 0}, LossCase{7, 16, 130, 3}, LossCase{64, 32, 256, 0},
                            LossCase{33, 24, 1000, 8}, LossCase{10, 8, 300, 1}}) {
    ExpectChunkedMatchesReference(c, torch::kFloat, 1e-4);
  }
}

TEST(LmHeadLoss, ChunkedEqualsTheReferenceInBfloat16) {
  // Both round the matmul inputs to bfloat16; the chunked op also keeps the gradient
  // of the logits in bfloat16 (as autocast does), hence the wider tolerance.
  for (const LossCase& c : {LossCase{16, 32, 300, 5}, LossCase{40, 64, 1000, 0}}) {
    ExpectChunkedMatchesReference(c, torch::kBFloat16, 2e-2);
  }
}

TEST(LmHeadLoss, UnderNoGradOnlyTheLossIsComputed) {
  torch::manual_seed(8);
  const torch::Tensor h = torch::randn({12, 8}).requires_grad_(true), w = torch::randn({40, 8});
  const torch::Tensor t = torch::randint(0, 40, {12}, torch::kLong);
  const double with_grad = ChunkedLmHeadLoss(h, w, t, torch::kFloat, 5).item<double>();
  torch::NoGradGuard no_grad;
  const torch::Tensor loss = ChunkedLmHeadLoss(h, w, t, torch::kFloat, 5);
  EXPECT_FALSE(loss.requires_grad());
  EXPECT_NEAR(loss.item<double>(), with_grad, 1e-6);
  EXPECT_NEAR(loss.item<double>(), ReferenceLmHeadLoss(h, w, t, torch::kFloat).item<double>(), 1e-5);
}

TEST(LmHeadLoss, AllIgnoredTargetsGiveZeroAndNoGradient) {
  torch::Tensor h = torch::randn({4, 8}).requires_grad_(true);
  torch::Tensor w = torch::randn({20, 8}).requires_grad_(true);
  const torch::Tensor t = torch::full({4}, -100, torch::kLong);
  const torch::Tensor loss = ChunkedLmHeadLoss(h, w, t, torch::kFloat, 2);
  loss.backward();
  EXPECT_EQ(loss.item<double>(), 0.0);
  EXPECT_EQ(h.grad().abs().sum().item<double>(), 0.0);
  EXPECT_EQ(w.grad().abs().sum().item<double>(), 0.0);
}

TEST(LmHeadLoss, EqualsCrossEntropyOfTheModelsLogits) {
  models::Gpt2 model = TinyGpt2(1, 16, 8, 50, 5);
  const torch::Tensor x = torch::randint(0, 50, {3, 8}, torch::kLong);
  const torch::Tensor y = torch::randint(0, 50, {3, 8}, torch::kLong);
  const double plain = LanguageModelLoss(model->forward(x), y).item<double>();
  const double fused =
      LmHeadLoss(model->forward_hidden(x), model->lm_head_weight(), y, torch::kFloat).item<double>();
  EXPECT_NEAR(fused, plain, 1e-5);
  EXPECT_EQ(PaddedVocabulary(50257), 50304);
  EXPECT_EQ(PaddedVocabulary(151936), 151936);
}

// The distillation op against its reference: both terms and the gradients of a
// weighted sum of them (the learner's lm_weight * lm + distill.weight * kl).
void ExpectDistillMatchesReference(const LossCase& c, double tau, torch::Dtype compute, double tol) {
  torch::manual_seed(c.N * 17 + c.V);
  const torch::Tensor h0 = torch::randn({c.N, c.C}), w0 = torch::randn({c.V, c.C}) * 0.5;
  const torch::Tensor teacher = torch::randn({c.N, c.V}) * 2;
  torch::Tensor t = torch::randint(0, c.V, {c.N}, torch::kLong);
  if (c.N > 2) t.index_put_({torch::indexing::Slice(1, c.N, 3)}, -100);
  auto run = [&](bool chunked) {
    torch::Tensor h = h0.clone().requires_grad_(true), w = w0.clone().requires_grad_(true);
    auto [lm, kl] = chunked ? DistillLmHeadLoss(h, w, t, teacher, tau, compute, c.chunk)
                            : ReferenceDistillLmHeadLoss(h, w, t, teacher, tau, compute);
    (lm * 0.7 + kl * 1.3).backward();
    return std::tuple{lm.item<double>(), kl.item<double>(), h.grad(), w.grad()};
  };
  const auto [lm_ref, kl_ref, gh_ref, gw_ref] = run(false);
  const auto [lm, kl, gh, gw] = run(true);
  SCOPED_TRACE(testing::Message() << "N=" << c.N << " V=" << c.V << " chunk=" << c.chunk << " tau=" << tau);
  EXPECT_NEAR(lm, lm_ref, tol * std::max(1.0, std::abs(lm_ref)));
  EXPECT_NEAR(kl, kl_ref, tol * std::max(1.0, std::abs(kl_ref)));
  EXPECT_TRUE(torch::allclose(gh, gh_ref, tol, tol * 1e-2)) << (gh - gh_ref).abs().max();
  EXPECT_TRUE(torch::allclose(gw, gw_ref, tol, tol * 1e-2)) << (gw - gw_ref).abs().max();
}

TEST(DistillLmHeadLoss, ChunkedEqualsTheReferenceAtSeveralTemperatures) {
  for (const double tau : {1.0, 2.0, 0.5}) {
    for (const LossCase& c : {LossCase{9, 16, 130, 4}, LossCase{32, 24, 300, 0}, LossCase{5, 8, 40, 1}}) {
      ExpectDistillMatchesReference(c, tau, torch::kFloat, 1e-4);
    }
  }
  ExpectDistillMatchesReference(LossCase{24, 32, 300, 7}, 1.5, torch::kBFloat16, 2e-2);
}

TEST(DistillLmHeadLoss, IdenticalDistributionsHaveZeroKl) {
  torch::manual_seed(3);
  const torch::Tensor h = torch::randn({6, 8}), w = torch::randn({50, 8});
  const torch::Tensor teacher = torch::linear(h, w);  // the student's own logits
  const torch::Tensor t = torch::randint(0, 50, {6}, torch::kLong);
  auto [lm, kl] = DistillLmHeadLoss(h, w, t, teacher, 1.0, torch::kFloat, 4);
  EXPECT_NEAR(kl.item<double>(), 0.0, 1e-5);
  EXPECT_GT(lm.item<double>(), 0.0);
}

TEST(ClipGradients, MatchesLibTorchsClipGradNorm) {
  torch::manual_seed(1);
  std::vector<torch::Tensor> a, b;
  for (const int64_t n : {5, 17, 3}) {
    torch::Tensor p = torch::randn({n}).requires_grad_(true);
    p.mutable_grad() = torch::randn({n}) * 3;
    torch::Tensor q = p.detach().clone().requires_grad_(true);
    q.mutable_grad() = p.grad().clone();
    a.push_back(p);
    b.push_back(q);
  }
  const double expected_norm = torch::nn::utils::clip_grad_norm_(b, 1.0);
  const torch::Tensor norm = ClipGradients(a, 1.0);
  EXPECT_NEAR(norm.item<double>(), expected_norm, 1e-5);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::allclose(a[i].grad(), b[i].grad()));
  // Under the limit nothing changes.
  const torch::Tensor before = a[0].grad().clone();
  ClipGradients(a, 1e6);
  EXPECT_TRUE(a[0].grad().equal(before));
}

TEST(AdamWUpdate, ReferencePathOnCpuIsTheOptimizersStepAndSkipsOnOverflow) {
  models::Gpt2 model = TinyGpt2(1, 16, 8, 32, 2);
  spec::TrainingSpec training;
  std::unique_ptr<torch::optim::AdamW> optimizer = MakeAdamW(*model, training);
  AdamWUpdate update(optimizer.get());
  EXPECT_FALSE(update.fused());
  const torch::Tensor x = torch::randint(0, 32, {2, 8}, torch::kLong);
  LanguageModelLoss(model->forward(x), x).backward();
  const torch::Tensor before = model->wte->weight.detach().clone();
  update.Step(torch::ones({1}));  // an overflow: no update
  EXPECT_TRUE(model->wte->weight.equal(before));
  update.Step(torch::zeros({1}));
  EXPECT_FALSE(model->wte->weight.equal(before));
}

TEST(Learner, Bf16StepsOnCpuLowerTheLossAndKeepFloat32Weights) {
  std::shared_ptr<models::CausalLm> model = TinyGpt2(2, 32, 16, 64, 4).ptr();
  spec::TrainingSpec training;
  training.precision = "bf16";
  training.lr = 1e-2;
  training.micro_batch_size = 2;
  auto learner = *MakeLearner(model, training, training.optimizer, "");
  EXPECT_EQ(learner->precision, Precision::kBf16);
  const torch::Tensor x = torch::randint(0, 64, {4, 16}, torch::kLong);
  const double first = learner->Step(x, x, {}, training, training.lr).total.item<double>();
  double last = first;
  for (int i = 0; i < 15; ++i) last = learner->Step(x, x, {}, training, training.lr).total.item<double>();
  EXPECT_LT(last, first - 0.5);
  for (const torch::Tensor& p : model->parameters()) EXPECT_EQ(p.scalar_type(), torch::kFloat);
}

TEST(StepProfiler, ParsesFirstColonLastAndRefusesTheRest) {
  ProfileOptions options;
  ASSERT_TRUE(ParseProfileSteps("3:5", "/tmp/t.json", &options).ok());
  EXPECT_EQ(options.first_step, 3);
  EXPECT_EQ(options.last_step, 5);
  EXPECT_EQ(options.trace_path, "/tmp/t.json");
  for (const std::string bad : {"5:3", "0:2", "3", "a:b", "1:2:3"}) {
    EXPECT_EQ(ParseProfileSteps(bad, "/tmp/t.json", &options).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_THAT(std::string(ParseProfileSteps("1:2", "", &options).message()), HasSubstr("--profile_out"));
}

TEST(StepProfiler, StartsAtTheFirstProfiledStepAndWritesTheTraceOrSaysWhyNot) {
  const std::string trace = ::testing::TempDir() + "/gwo_profile_trace.json";
  std::remove(trace.c_str());
  StepProfiler profiler(ProfileOptions{.first_step = 2, .last_step = 3, .trace_path = trace});
  EXPECT_TRUE(profiler.BeforeStep(1).ok());  // not yet
  EXPECT_FALSE(profiler.active());
  const absl::Status started = profiler.BeforeStep(2);
  if (!started.ok()) {  // a LibTorch without Kineto (Debian's CPU build)
    EXPECT_EQ(started.code(), absl::StatusCode::kUnimplemented);
    EXPECT_THAT(std::string(started.message()), HasSubstr("Kineto"));
    EXPECT_FALSE(profiler.active());
    return;
  }
  EXPECT_TRUE(profiler.active());
  torch::mm(torch::randn({8, 8}), torch::randn({8, 8}));
  ASSERT_TRUE(profiler.AfterStep(3).ok());
  EXPECT_FALSE(profiler.active());
  EXPECT_TRUE(std::ifstream(trace).good()) << trace;
}

TEST(StepGraph, UnsupportedOnCpuSaysWhy) {
  std::shared_ptr<models::CausalLm> model = TinyGpt2(1, 16, 8, 32, 1).ptr();
  spec::RunSpec run;
  auto learner = *MakeLearner(model, run.training, run.training.optimizer, "");
  // Built without CUDA, or the model is not on CUDA: either way it says so.
  EXPECT_THAT(StepGraphUnsupported(*learner, run, false, false).value_or(""), HasSubstr("CUDA"));
  run.training.cuda_graph = false;
  EXPECT_EQ(StepGraphUnsupported(*learner, run, false, false).value_or(""), "training.cuda_graph is off");
}

}  // namespace
}  // namespace gwo::trainer
