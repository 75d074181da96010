// The cached decoding path of the models against their full forward: per-step logits
// agree within 1e-4 (float32 on CPU; the only difference is summation order), for
// GPT-2 and Qwen3 (with grouped-query attention), alone and batched.
#include "worker/models/kv_cache.h"

#include <torch/torch.h>

#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "worker/models/model.h"

namespace gwo::models {
namespace {

using torch::indexing::Slice;

constexpr double kTolerance = 1e-4;

std::shared_ptr<CausalLm> TinyModel(const std::string& arch) {
  spec::ModelSpec spec;
  spec.arch = arch;
  spec.n_layer = 2;
  spec.n_head = 4;
  spec.n_embd = 32;
  spec.block_size = 24;
  if (arch == "qwen3") {
    spec.n_kv_head = 2;
    spec.rope_theta = 10000;
  }
  torch::manual_seed(3);
  absl::StatusOr<std::shared_ptr<CausalLm>> model = MakeModel(spec, spec::AttentionSpec{}, 50);
  EXPECT_TRUE(model.ok()) << model.status();
  (*model)->eval();
  return *model;
}

class KvCacheTest : public ::testing::TestWithParam<std::string> {};

TEST_P(KvCacheTest, PrefillThenOneTokenStepsEqualTheFullForward) {
  torch::NoGradGuard no_grad;
  std::shared_ptr<CausalLm> model = TinyModel(GetParam());
  torch::manual_seed(4);
  const torch::Tensor seq = torch::randint(0, 50, {1, 20}, torch::kLong);  // (1, L)
  const torch::Tensor full = model->forward(seq);                          // (1, L, V)
  KvCache cache = AllocateKvCache(model->spec(), 1, model->block_size(), torch::kFloat32);
  const int64_t P = 7;
  CacheStep step = MakeCacheStep(cache, 0, {0}, P, 0, torch::kCPU);
  torch::Tensor logits = ForwardCached(*model, seq.index({Slice(), Slice(0, P)}), step);
  EXPECT_TRUE(torch::allclose(logits, full.index({Slice(), Slice(0, P)}), 0, kTolerance));
  for (int64_t t = P; t < seq.size(1); ++t) {
    step = MakeCacheStep(cache, 0, {t}, 1, 0, torch::kCPU);
    logits = ForwardCached(*model, seq.index({Slice(), Slice(t, t + 1)}), step);  // (1, 1, V)
    EXPECT_TRUE(torch::allclose(logits.squeeze(1), full.select(1, t), 0, kTolerance))
        << "position " << t << ": max diff "
        << (logits.squeeze(1) - full.select(1, t)).abs().max().item<float>();
  }
}

TEST_P(KvCacheTest, BatchedRowsOfDifferentLengthsEqualEachAlone) {
  torch::NoGradGuard no_grad;
  std::shared_ptr<CausalLm> model = TinyModel(GetParam());
  torch::manual_seed(5);
  const std::vector<int64_t> lengths = {3, 9, 5};
  std::vector<torch::Tensor> seqs;
  for (int64_t n : lengths) seqs.push_back(torch::randint(0, 50, {1, n + 4}, torch::kLong));
  KvCache cache = AllocateKvCache(model->spec(), 4, model->block_size(), torch::kFloat32);
  for (size_t r = 0; r < seqs.size(); ++r) {  // prefill each row alone, rows 1..3
    CacheStep step = MakeCacheStep(cache, r + 1, {0}, lengths[r], 0, torch::kCPU);
    ForwardCached(*model, seqs[r].index({Slice(), Slice(0, lengths[r])}), step);
  }
  for (int64_t k = 0; k < 4; ++k) {  // then 4 batched steps over rows 1..3
    std::vector<int64_t> start;
    std::vector<torch::Tensor> next;
    for (size_t r = 0; r < seqs.size(); ++r) {
      start.push_back(lengths[r] + k);
      next.push_back(seqs[r].index({Slice(), Slice(lengths[r] + k, lengths[r] + k + 1)}));
    }
    CacheStep step = MakeCacheStep(cache, 1, start, 1, 0, torch::kCPU);
    const torch::Tensor logits = ForwardCached(*model, torch::cat(next), step);  // (3, 1, V)
    for (size_t r = 0; r < seqs.size(); ++r) {
      const torch::Tensor alone = model->forward(seqs[r]).select(1, start[r]);  // (1, V)
      EXPECT_TRUE(torch::allclose(logits[r], alone, 0, kTolerance)) << "row " << r << " step " << k;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Archs, KvCacheTest, ::testing::Values("gpt2", "qwen3"));

TEST(KvCache, OnlyStandardSoftmaxKindsDecodeIncrementally) {
  EXPECT_TRUE(SupportsKvCache("standard"));
  EXPECT_FALSE(SupportsKvCache("performer"));
}

TEST(KvCache, WindowedMaskHidesKeysOutsideTheWindow) {
  spec::ModelSpec spec;
  KvCache cache = AllocateKvCache(spec, 1, 8, torch::kFloat32);
  const CacheStep step = MakeCacheStep(cache, 0, {5}, 1, /*window=*/2, torch::kCPU);
  // The query at position 5 sees keys 4 and 5 only.
  EXPECT_TRUE(torch::equal(step.mask.flatten(),
                           torch::tensor({0, 0, 0, 0, 1, 1}, torch::kBool)));
}

}  // namespace
}  // namespace gwo::models
