#include "worker/attention/common.h"

#include <torch/torch.h>

#include <algorithm>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"

namespace gwo::attention {

using torch::indexing::Slice;

torch::Tensor CausalVisible(int64_t T, const torch::Device& device) {
  return torch::ones({T, T}, torch::TensorOptions().dtype(torch::kBool).device(device)).tril();
}

torch::Tensor WindowVisible(int64_t T, int64_t window, int64_t sinks, const torch::Device& device) {
  const torch::Tensor pos = torch::arange(T, torch::TensorOptions().dtype(torch::kLong).device(device));
  const torch::Tensor t = pos.unsqueeze(1), s = pos.unsqueeze(0);  // (T, 1), (1, T)
  return (s <= t) & ((t - s < window) | (s < sinks));              // (T, T)
}

torch::Tensor MaskedSoftmax(const torch::Tensor& scores, const torch::Tensor& visible) {
  const torch::Tensor hidden = visible.logical_not().expand_as(scores);
  // A row with nothing visible softmaxes zeros (finite), then is zeroed.
  const torch::Tensor empty_row = hidden.all(-1, /*keepdim=*/true);
  torch::Tensor masked =
      scores.masked_fill(hidden, -std::numeric_limits<float>::infinity()).masked_fill(empty_row, 0.0);
  return torch::softmax(masked, -1).masked_fill(hidden, 0.0);
}

torch::Tensor MaskedAttention(const torch::Tensor& q, const torch::Tensor& k,
                              const torch::Tensor& v, const torch::Tensor& visible, double scale,
                              double dropout, bool training, AttentionCapture* capture) {
  const torch::Tensor scores = torch::matmul(q, k.transpose(-2, -1)) * scale;  // (B, nh, T, T)
  torch::Tensor probs = MaskedSoftmax(scores, visible);                        // (B, nh, T, T)
  if (capture != nullptr) {
    capture->probs = probs.detach();
    capture->scores = scores.detach().masked_fill(visible.logical_not(),
                                                  -std::numeric_limits<float>::infinity());
  }
  probs = torch::dropout(probs, dropout, training);
  return torch::matmul(probs, v);  // (B, nh, T, hd)
}

torch::Tensor CausalPrefixProduct(const torch::Tensor& fq, const torch::Tensor& fk,
                                  const torch::Tensor& v, int64_t chunk) {
  const int64_t T = fq.size(2);
  std::vector<torch::Tensor> outs;
  torch::Tensor state;  // (B, nh, m, d): sum over earlier chunks of fk_s v_s^T
  for (int64_t start = 0; start < T; start += chunk) {
    const int64_t end = std::min(T, start + chunk), n = end - start;
    const torch::Tensor q_c = fq.index({Slice(), Slice(), Slice(start, end)});  // (B, nh, n, m)
    const torch::Tensor k_c = fk.index({Slice(), Slice(), Slice(start, end)});  // (B, nh, n, m)
    const torch::Tensor v_c = v.index({Slice(), Slice(), Slice(start, end)});   // (B, nh, n, d)
    const torch::Tensor local =
        torch::matmul(q_c, k_c.transpose(-2, -1)) * CausalVisible(n, fq.device());  // (B, nh, n, n)
    torch::Tensor out = torch::matmul(local, v_c);                                // (B, nh, n, d)
    if (state.defined()) out = out + torch::matmul(q_c, state);
    const torch::Tensor add = torch::matmul(k_c.transpose(-2, -1), v_c);  // (B, nh, m, d)
    state = state.defined() ? state + add : add;
    outs.push_back(out);
  }
  return torch::cat(outs, /*dim=*/2);
}

void CheckInputs(const AttentionDims& dims, const torch::Tensor& q, const torch::Tensor& k,
                 const torch::Tensor& v) {
  TORCH_CHECK(q.dim() == 4 && q.sizes() == k.sizes() && q.sizes() == v.sizes(),
              "attention expects q, k, v of equal shape (B, nh, T, hd), got ", q.sizes(), ", ",
              k.sizes(), ", ", v.sizes());
  TORCH_CHECK(q.size(1) == dims.n_head && q.size(3) == dims.head_dim, "attention built for ",
              dims.n_head, " heads of width ", dims.head_dim, " got q of shape ", q.sizes());
  TORCH_CHECK(q.size(2) <= dims.block_size, "sequence length ", q.size(2), " exceeds block_size ",
              dims.block_size);
}

std::optional<std::string> CommonUnsupported(const AttentionDims& dims, const torch::Device& device,
                                             torch::Dtype dtype, int64_t T) {
  if (T > dims.block_size) {
    return absl::StrCat("sequence length ", T, " exceeds block_size ", dims.block_size);
  }
  if (!c10::isFloatingType(dtype)) {
    return absl::StrCat("needs a floating-point dtype, got ", c10::toString(dtype));
  }
  if (device.is_cpu() && dtype == torch::kHalf) {
    return "float16 matmul is not supported on CPU; use float32 or bfloat16";
  }
  return std::nullopt;
}

}  // namespace gwo::attention
