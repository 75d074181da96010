// Relaxed, softmax-free linear attention (the dual form of gradient descent).
//
// A linear layer W trained by gradient descent on inputs k_s with error signals v_s
// has W_t = W_0 + sum_{s <= t} v_s k_s^T; applying it to q_t is attention without a
// softmax. Here (W_0 = 0, step folded into the projections):
//
//   W_t   = sum_{s <= t} k_s v_s^T / sqrt(hd)     (B, nh, hd, hd)  running prefix sum
//   out_t = c_t * q_t W_t                          (B, nh, T, hd)
//   c_t   = 1 / (t + 1) with normalize: count (a running mean), 1 with normalize: none
//
// Closed form: out = w v with w(t, s) = c_t (q_t . k_s) / sqrt(hd) for s <= t, else 0.
// O(T hd^2) via chunked prefix sums; no dropout (there are no probabilities).
#include "worker/attention/linear.h"

#include <torch/torch.h>

#include <cmath>

#include "worker/attention/common.h"

namespace gwo::attention {
namespace {

// (T, 1) c_t, in q's dtype and device.
torch::Tensor Normaliser(const torch::Tensor& q, const std::string& normalize) {
  const int64_t T = q.size(2);
  if (normalize == "none") return torch::ones({T, 1}, q.options());
  return 1.0 / torch::arange(1, T + 1, q.options()).unsqueeze(1);
}

}  // namespace

LinearAttention::LinearAttention(const AttentionDims& dims, const spec::LinearOptions& options)
    : Attention("LinearAttention"), dims_(dims), options_(options) {}

torch::Tensor LinearAttention::forward(const torch::Tensor& q, const torch::Tensor& k,
                                       const torch::Tensor& v) {
  CheckInputs(dims_, q, k, v);
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(3)));
  if (capture_) captured_ = {.probs = Weights(q, k).detach(), .scores = torch::Tensor()};
  return CausalPrefixProduct(q * scale, k, v) * Normaliser(q, options_.normalize);
}

torch::Tensor LinearAttention::Weights(const torch::Tensor& q, const torch::Tensor& k) const {
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(3)));
  const torch::Tensor w = torch::matmul(q, k.transpose(-2, -1)) * scale;  // (B, nh, T, T)
  return w * CausalVisible(q.size(2), q.device()) * Normaliser(q, options_.normalize);
}

std::optional<std::string> LinearAttention::Unsupported(const torch::Device& device,
                                                        torch::Dtype dtype, int64_t T) const {
  return CommonUnsupported(dims_, device, dtype, T);
}

}  // namespace gwo::attention
