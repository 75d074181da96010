// Sliding-window attention with attention sinks.
//
//   visible(t, s) = s <= t and (t - s < window or s < sink_tokens)     (T, T)
//   scores = q k^T / sqrt(hd), -inf where not visible                 (B, nh, T, T)
//   out    = softmax(scores) v                                        (B, nh, T, hd)
//
// With window >= T and no sinks this is standard causal attention. Cost is still
// O(T^2) here (a dense masked product; LibTorch >= 2 uses SDPA with the band mask).
#include "worker/attention/sliding_window.h"

#include <torch/torch.h>
#include <torch/version.h>

#include <cmath>

#include "worker/attention/common.h"

namespace gwo::attention {

SlidingWindowAttention::SlidingWindowAttention(const AttentionDims& dims,
                                               const spec::SlidingWindowOptions& options)
    : Attention("SlidingWindowAttention"), dims_(dims), options_(options) {}

torch::Tensor SlidingWindowAttention::forward(const torch::Tensor& q, const torch::Tensor& k,
                                              const torch::Tensor& v) {
  CheckInputs(dims_, q, k, v);
  const torch::Tensor visible =
      WindowVisible(q.size(2), options_.window, options_.sink_tokens, q.device());  // (T, T)
  const double dropout = is_training() ? dims_.dropout : 0.0;
#if TORCH_VERSION_MAJOR >= 2
  if (!capture_) {
    return at::scaled_dot_product_attention(q, k, v, visible, dropout, /*is_causal=*/false);
  }
#endif
  return MaskedAttention(q, k, v, visible, 1.0 / std::sqrt(static_cast<double>(q.size(3))), dropout,
                         is_training(), capture_ ? &captured_ : nullptr);
}

std::optional<std::string> SlidingWindowAttention::Unsupported(const torch::Device& device,
                                                               torch::Dtype dtype,
                                                               int64_t T) const {
  return CommonUnsupported(dims_, device, dtype, T);
}

}  // namespace gwo::attention
