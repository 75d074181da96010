// GWO FactorizedAttention. Per head h, with r = rank (0: hd), weights shared by heads:
//
//   qn = LayerNorm(q)                                         (B, nh, T, hd)
//   q' = q + sigmoid(alpha_q[h]) * q_out(GELU(q_w1(qn) * q_w2(qn)))   q_w*: hd->r, q_out: r->hd
//   kn = LayerNorm(k)
//   k' = k + sigmoid(alpha_k[h]) * k_out(GELU(k_w3(kn) * k_w4(kn)))
//   scores = q' k'^T / (sqrt(hd) * exp(log_temperature[h])), -inf where s > t   (B, nh, T, T)
//   out = softmax(scores) v                                   (B, nh, T, hd)
//
// alpha_q, alpha_k start at gate_init; log_temperature at 0. Closed gates
// (alpha = -inf) give standard attention on the same q, k, v. Parameters:
// ln_q, ln_k, q_w1, q_w2, q_out, k_w3, k_w4, k_out, alpha_q, alpha_k, log_temperature.
#include "worker/attention/factorized.h"

#include <torch/torch.h>
#include <torch/version.h>

#include <cmath>

#include "worker/attention/common.h"

namespace gwo::attention {

FactorizedAttention::FactorizedAttention(const AttentionDims& dims,
                                         const spec::FactorizedOptions& options)
    : Attention("FactorizedAttention"), dims_(dims) {
  const int64_t hd = dims.head_dim, r = options.rank > 0 ? options.rank : dims.head_dim;
  ln_q = register_module("ln_q", torch::nn::LayerNorm(torch::nn::LayerNormOptions({hd})));
  ln_k = register_module("ln_k", torch::nn::LayerNorm(torch::nn::LayerNormOptions({hd})));
  q_w1 = register_module("q_w1", torch::nn::Linear(hd, r));
  q_w2 = register_module("q_w2", torch::nn::Linear(hd, r));
  q_out = register_module("q_out", torch::nn::Linear(r, hd));
  k_w3 = register_module("k_w3", torch::nn::Linear(hd, r));
  k_w4 = register_module("k_w4", torch::nn::Linear(hd, r));
  k_out = register_module("k_out", torch::nn::Linear(r, hd));
  alpha_q = register_parameter("alpha_q", torch::full({dims.n_head}, options.gate_init));
  alpha_k = register_parameter("alpha_k", torch::full({dims.n_head}, options.gate_init));
  log_temperature = register_parameter("log_temperature", torch::zeros({dims.n_head}));
}

torch::Tensor FactorizedAttention::forward(const torch::Tensor& q, const torch::Tensor& k,
                                           const torch::Tensor& v) {
  CheckInputs(dims_, q, k, v);
  auto per_head = [](const torch::Tensor& t) { return t.view({1, -1, 1, 1}); };  // (1, nh, 1, 1)
  const torch::Tensor qn = ln_q(q), kn = ln_k(k);                                  // (B, nh, T, hd)
  const torch::Tensor q_mix = q_out(torch::gelu(q_w1(qn) * q_w2(qn)));            // (B, nh, T, hd)
  const torch::Tensor k_mix = k_out(torch::gelu(k_w3(kn) * k_w4(kn)));            // (B, nh, T, hd)
  // The temperature divides the scores; folding it into q keeps one matmul.
  const torch::Tensor q2 = (q + per_head(torch::sigmoid(alpha_q)) * q_mix) *
                           per_head(torch::exp(-log_temperature));
  const torch::Tensor k2 = k + per_head(torch::sigmoid(alpha_k)) * k_mix;
  const double dropout = is_training() ? dims_.dropout : 0.0;
#if TORCH_VERSION_MAJOR >= 2
  if (!capture_) {
    return at::scaled_dot_product_attention(q2, k2, v, /*attn_mask=*/{}, dropout, /*is_causal=*/true);
  }
#endif
  return MaskedAttention(q2, k2, v, CausalVisible(q.size(2), q.device()),
                         1.0 / std::sqrt(static_cast<double>(q.size(3))), dropout, is_training(),
                         capture_ ? &captured_ : nullptr);
}

std::optional<std::string> FactorizedAttention::Unsupported(const torch::Device& device,
                                                            torch::Dtype dtype, int64_t T) const {
  return CommonUnsupported(dims_, device, dtype, T);
}

}  // namespace gwo::attention
