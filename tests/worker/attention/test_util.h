// Shared helpers of the attention tests: tiny dims, per-kind options that exercise
// each variant's sparsity at T = 8, random inputs, and a naive masked softmax.
#ifndef GWO_TESTS_WORKER_ATTENTION_TEST_UTIL_H_
#define GWO_TESTS_WORKER_ATTENTION_TEST_UTIL_H_

#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <string_view>

#include "spec/run_spec.h"
#include "worker/attention/attention.h"
#include "worker/attention/registry.h"

namespace gwo::attention::testing {

constexpr AttentionDims kDims{.n_head = 2, .head_dim = 4, .block_size = 8, .dropout = 0.0};

// Options small enough that T = 8 is sparse for every kind.
inline spec::AttentionSpec SmallSpec(std::string_view kind) {
  spec::AttentionSpec s;
  s.kind = std::string(kind);
  s.factorized = {.rank = 3, .gate_init = 0.0};
  s.sliding_window = {.window = 3, .sink_tokens = 1};
  s.mask_mixture = {.windows = {2, 4}, .stride = 3, .sink_tokens = 1, .per = "head"};
  s.learned_mask = {.block = 2, .top_k = 1, .relaxation = "straight_through"};
  s.performer = {.features = 16, .redraw_interval = 0};
  s.nsa = {.block = 2, .stride = 1, .selected_blocks = 2, .window = 3};
  return s;
}

inline std::shared_ptr<Attention> Make(const spec::AttentionSpec& s,
                                       const AttentionDims& dims = kDims) {
  absl::StatusOr<std::shared_ptr<Attention>> made = MakeAttention(s, dims);
  TORCH_CHECK(made.ok(), std::string(made.status().message()));
  return *made;
}

struct Qkv {
  torch::Tensor q, k, v;  // (B, nh, T, hd)
};

inline Qkv RandomQkv(int64_t B = 2, int64_t T = 8, double q_scale = 1.0) {
  return {torch::randn({B, kDims.n_head, T, kDims.head_dim}) * q_scale,
          torch::randn({B, kDims.n_head, T, kDims.head_dim}) * q_scale,
          torch::randn({B, kDims.n_head, T, kDims.head_dim})};
}

// softmax(q k^T / sqrt(hd) over `visible` (T, T) bool) v, written out plainly.
inline torch::Tensor NaiveMasked(const Qkv& x, const torch::Tensor& visible) {
  const torch::Tensor scores =
      torch::matmul(x.q, x.k.transpose(-2, -1)) / std::sqrt(static_cast<double>(x.q.size(3)));
  const torch::Tensor masked =
      scores.masked_fill(visible.logical_not(), -std::numeric_limits<float>::infinity());
  return torch::matmul(torch::softmax(masked, -1), x.v);
}

inline torch::Tensor Causal(int64_t T) { return torch::ones({T, T}, torch::kBool).tril(); }

}  // namespace gwo::attention::testing

#endif  // GWO_TESTS_WORKER_ATTENTION_TEST_UTIL_H_
