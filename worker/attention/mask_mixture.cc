// Mask-mixture attention. A bank of M fixed 0/1 masks, each inside the causal mask
// and containing the diagonal:
//
//   causal:      s <= t
//   window w:    s <= t and t - s < w               (one per options.windows)
//   strided:     s <= t and (t - s) % stride == 0   (if stride > 0)
//   sinks:       s <= t and (s < sink_tokens or s == t)   (if sink_tokens > 0)
//
//   w_h    = softmax(mix_logits[h])                 (M)    per head (or one row per layer)
//   A_h    = sum_m w_h[m] bank[m]                   (T, T) in [0, 1]
//   scores = q k^T / sqrt(hd) + log A_h             (B, nh, T, T), -inf where A_h = 0
//   out    = softmax(scores) v                      (B, nh, T, hd)
//
// i.e. p(t, s) is proportional to A_h(t, s) exp(q_t . k_s / sqrt(hd)). mix_logits start
// at 0 (equal weights). With all weight on one mask this is hard-masked attention.
#include "worker/attention/mask_mixture.h"

#include <torch/torch.h>

#include <cmath>
#include <limits>

#include "worker/attention/common.h"

namespace gwo::attention {

MaskMixtureAttention::MaskMixtureAttention(const AttentionDims& dims,
                                           const spec::MaskMixtureOptions& options)
    : Attention("MaskMixtureAttention"), dims_(dims), options_(options) {
  const int64_t masks = 1 + static_cast<int64_t>(options.windows.size()) +
                        (options.stride > 0 ? 1 : 0) + (options.sink_tokens > 0 ? 1 : 0);
  const int64_t rows = options.per == "layer" ? 1 : dims.n_head;
  mix_logits = register_parameter("mix_logits", torch::zeros({rows, masks}));
}

torch::Tensor MaskMixtureAttention::Bank(int64_t T, const torch::Device& device) const {
  const torch::Tensor pos = torch::arange(T, torch::TensorOptions().dtype(torch::kLong).device(device));
  const torch::Tensor t = pos.unsqueeze(1), s = pos.unsqueeze(0);  // (T, 1), (1, T)
  const torch::Tensor causal = s <= t;                             // (T, T)
  std::vector<torch::Tensor> bank{causal};
  for (int w : options_.windows) bank.push_back(causal & (t - s < w));
  if (options_.stride > 0) bank.push_back(causal & ((t - s) % options_.stride == 0));
  if (options_.sink_tokens > 0) bank.push_back(causal & ((s < options_.sink_tokens) | (s == t)));
  return torch::stack(bank).to(torch::kFloat);  // (M, T, T)
}

torch::Tensor MaskMixtureAttention::forward(const torch::Tensor& q, const torch::Tensor& k,
                                            const torch::Tensor& v) {
  CheckInputs(dims_, q, k, v);
  const int64_t T = q.size(2);
  const torch::Tensor weights = torch::softmax(mix_logits, -1);  // (H', M)
  const torch::Tensor mixed =
      torch::einsum("hm,mts->hts", {weights, Bank(T, q.device()).to(weights.scalar_type())})
          .unsqueeze(0);                                         // (1, H', T, T)
  const torch::Tensor visible = mixed > 0;                       // (1, H', T, T)
  // log A where A > 0; masked entries get no gradient (masked_fill), so no 0 * inf.
  const torch::Tensor log_mask =
      torch::log(mixed.clamp_min(std::numeric_limits<float>::min())).masked_fill(visible.logical_not(), 0.0);
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(3)));
  const torch::Tensor scores =
      torch::matmul(q, k.transpose(-2, -1)) * scale + log_mask.to(q.scalar_type());  // (B, nh, T, T)
  torch::Tensor probs = MaskedSoftmax(scores, visible);                             // (B, nh, T, T)
  if (capture_) {
    captured_ = {.probs = probs.detach(),
                 .scores = scores.detach().masked_fill(visible.logical_not(),
                                                       -std::numeric_limits<float>::infinity())};
  }
  probs = torch::dropout(probs, dims_.dropout, is_training());
  return torch::matmul(probs, v);  // (B, nh, T, hd)
}

std::optional<std::string> MaskMixtureAttention::Unsupported(const torch::Device& device,
                                                             torch::Dtype dtype, int64_t T) const {
  return CommonUnsupported(dims_, device, dtype, T);
}

}  // namespace gwo::attention
