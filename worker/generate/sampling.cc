#include "worker/generate/sampling.h"

#include <torch/torch.h>

#include <algorithm>

namespace gwo::generate {

torch::Tensor SamplingDistribution(const torch::Tensor& logits,
                                   const std::vector<SamplingParams>& params) {
  const int64_t N = logits.size(0), V = logits.size(1);
  TORCH_CHECK(static_cast<int64_t>(params.size()) == N, "sampling: ", params.size(),
              " parameter sets for ", N, " rows");
  std::vector<float> temps, top_p;
  std::vector<int64_t> top_k;
  for (const SamplingParams& p : params) {
    temps.push_back(p.temperature > 0 ? static_cast<float>(p.temperature) : 1.0f);
    top_k.push_back(p.top_k > 0 ? std::min<int64_t>(p.top_k, V) : V);
    top_p.push_back(static_cast<float>(std::clamp(p.top_p, 0.0, 1.0)));
  }
  const auto dev = logits.device();
  const torch::Tensor t = torch::tensor(temps).to(dev).view({N, 1});
  const torch::Tensor k = torch::tensor(top_k).to(dev).view({N, 1});
  const torch::Tensor p = torch::tensor(top_p).to(dev).view({N, 1});
  const torch::Tensor scaled = logits.to(torch::kFloat32) / t;                   // (N, V)
  auto [sorted, order] = scaled.sort(/*dim=*/-1, /*descending=*/true);           // (N, V)
  torch::Tensor probs = torch::softmax(sorted, -1);                              // (N, V)
  const torch::Tensor rank = torch::arange(V, order.options()).view({1, V});     // (1, V)
  // Keep rank < k, and tokens whose preceding mass is still below top_p (so the
  // first one always stays).
  const torch::Tensor before = probs.cumsum(-1) - probs;
  const torch::Tensor keep = (rank < k).logical_and(before < p).logical_or(rank == 0);
  probs = probs * keep;
  probs = probs / probs.sum(-1, /*keepdim=*/true);
  return torch::zeros_like(probs).scatter(1, order, probs);  // back to vocabulary order
}

std::vector<int32_t> SampleTokens(const torch::Tensor& logits,
                                  const std::vector<SamplingParams>& params,
                                  std::vector<std::mt19937_64*>& rngs) {
  const int64_t N = logits.size(0);
  const bool all_greedy = std::all_of(params.begin(), params.end(),
                                      [](const SamplingParams& p) { return p.temperature <= 0; });
  torch::Tensor tokens = logits.argmax(-1);  // (N)
  if (!all_greedy) {
    std::vector<float> u(N);
    std::vector<uint8_t> greedy(N);
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    for (int64_t i = 0; i < N; ++i) {
      greedy[i] = params[i].temperature <= 0;
      u[i] = greedy[i] ? 0.5f : static_cast<float>(uniform(*rngs[i]));
    }
    const torch::Tensor probs = SamplingDistribution(logits, params);  // (N, V)
    const torch::Tensor cdf = probs.cumsum(-1);
    const torch::Tensor uu = torch::tensor(u).to(logits.device()).view({N, 1});
    // The first token whose cumulative probability reaches u (scaled by the total, so
    // rounding cannot push u past the last kept token).
    const torch::Tensor total = cdf.narrow(1, logits.size(1) - 1, 1);  // (N, 1)
    const torch::Tensor drawn = (cdf < uu * total).sum(-1).clamp_max(logits.size(1) - 1);  // (N)
    const torch::Tensor g = torch::tensor(greedy).to(logits.device()).to(torch::kBool);
    tokens = torch::where(g, tokens, drawn);
  }
  const torch::Tensor host = tokens.to(torch::kCPU, torch::kInt).contiguous();
  const int32_t* data = host.data_ptr<int32_t>();
  return std::vector<int32_t>(data, data + N);
}

}  // namespace gwo::generate
