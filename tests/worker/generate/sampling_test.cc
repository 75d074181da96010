#include "worker/generate/sampling.h"

#include <torch/torch.h>

#include <cmath>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace gwo::generate {
namespace {

std::vector<float> Row(const torch::Tensor& t) {
  const torch::Tensor c = t.contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

TEST(SamplingDistribution, TopKKeepsTheKLargestRenormalised) {
  const torch::Tensor logits = torch::tensor({{1.0f, 4.0f, 2.0f, 3.0f}});
  const auto p = Row(SamplingDistribution(logits, {{.temperature = 1.0, .top_k = 2}})[0]);
  const double z = std::exp(4.0) + std::exp(3.0);
  EXPECT_FLOAT_EQ(p[0], 0);
  EXPECT_NEAR(p[1], std::exp(4.0) / z, 1e-6);
  EXPECT_FLOAT_EQ(p[2], 0);
  EXPECT_NEAR(p[3], std::exp(3.0) / z, 1e-6);
}

TEST(SamplingDistribution, TopPKeepsTheSmallestSetReachingP) {
  // Probabilities 0.5, 0.3, 0.15, 0.05 (as logs): top_p 0.7 needs the first two,
  // 0.81 the first three.
  const torch::Tensor logits = torch::log(torch::tensor({{0.05f, 0.5f, 0.15f, 0.3f}}));
  auto p = Row(SamplingDistribution(logits, {{.top_p = 0.7}})[0]);
  EXPECT_NEAR(p[1], 0.5 / 0.8, 1e-5);
  EXPECT_NEAR(p[3], 0.3 / 0.8, 1e-5);
  EXPECT_EQ(p[0] + p[2], 0);
  p = Row(SamplingDistribution(logits, {{.top_p = 0.81}})[0]);
  EXPECT_NEAR(p[2], 0.15 / 0.95, 1e-5);
  EXPECT_EQ(p[0], 0);
  // A tiny top_p still keeps the most likely token.
  p = Row(SamplingDistribution(logits, {{.top_p = 0.01}})[0]);
  EXPECT_FLOAT_EQ(p[1], 1);
}

TEST(SamplingDistribution, TemperatureSharpensAndRowsAreIndependent) {
  const torch::Tensor logits = torch::tensor({{0.0f, 1.0f}, {0.0f, 1.0f}});
  const torch::Tensor p =
      SamplingDistribution(logits, {{.temperature = 1.0}, {.temperature = 0.5}});
  EXPECT_NEAR(p[0][1].item<float>(), 1 / (1 + std::exp(-1.0)), 1e-6);
  EXPECT_NEAR(p[1][1].item<float>(), 1 / (1 + std::exp(-2.0)), 1e-6);
}

TEST(SampleTokens, GreedyTakesTheArgmax) {
  const torch::Tensor logits = torch::tensor({{0.1f, 0.9f, 0.3f}, {2.0f, 0.0f, 1.0f}});
  std::mt19937_64 a(1), b(2);
  std::vector<std::mt19937_64*> rngs{&a, &b};
  EXPECT_EQ(SampleTokens(logits, {{.temperature = 0}, {.temperature = 0}}, rngs),
            (std::vector<int32_t>{1, 0}));
}

TEST(SampleTokens, TheSameSeedDrawsTheSameTokensInAnyBatch) {
  torch::manual_seed(0);
  const torch::Tensor logits = torch::randn({1, 100});
  auto draw = [&](uint64_t seed, int batch) {
    std::vector<std::mt19937_64> rng_store(batch);
    std::vector<std::mt19937_64*> rngs;
    for (int i = 0; i < batch; ++i) {
      rng_store[i].seed(i == 0 ? seed : 1000 + i);
      rngs.push_back(&rng_store[i]);
    }
    std::vector<int32_t> tokens;
    for (int step = 0; step < 20; ++step) {
      const std::vector<SamplingParams> params(batch, {.temperature = 1.0, .top_k = 50});
      tokens.push_back(SampleTokens(logits.expand({batch, 100}), params, rngs)[0]);
    }
    return tokens;
  };
  EXPECT_EQ(draw(7, 1), draw(7, 3));
  EXPECT_NE(draw(7, 1), draw(8, 1));
}

TEST(SampleTokens, DrawsFollowTheDistribution) {
  const torch::Tensor logits = torch::log(torch::tensor({{0.2f, 0.8f}}));
  std::mt19937_64 rng(3);
  std::vector<std::mt19937_64*> rngs{&rng};
  int ones = 0;
  for (int i = 0; i < 2000; ++i) ones += SampleTokens(logits, {{.temperature = 1.0}}, rngs)[0];
  EXPECT_NEAR(ones / 2000.0, 0.8, 0.03);
}

}  // namespace
}  // namespace gwo::generate
