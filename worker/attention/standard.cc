#include "worker/attention/standard.h"

#include <torch/torch.h>
#include <torch/version.h>

#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"

namespace gwo::attention {

StandardAttention::StandardAttention(const AttentionDims& dims)
    : Attention("StandardAttention"), dims_(dims) {}

torch::Tensor StandardAttention::forward(const torch::Tensor& q, const torch::Tensor& k,
                                         const torch::Tensor& v) {
  TORCH_CHECK(q.dim() == 4 && q.sizes() == k.sizes() && q.sizes() == v.sizes(),
              "attention expects q, k, v of equal shape (B, nh, T, hd), got ", q.sizes(), ", ",
              k.sizes(), ", ", v.sizes());
  TORCH_CHECK(q.size(2) <= dims_.block_size, "sequence length ", q.size(2), " exceeds block_size ",
              dims_.block_size);
#if TORCH_VERSION_MAJOR >= 2
  if (capture_) return Reference(q, k, v);
  // Fused flash / memory-efficient kernels; same math as Reference().
  return at::scaled_dot_product_attention(q, k, v, /*attn_mask=*/{},
                                          is_training() ? dims_.dropout : 0.0,
                                          /*is_causal=*/true);
#else
  return Reference(q, k, v);
#endif
}

torch::Tensor StandardAttention::Reference(const torch::Tensor& q, const torch::Tensor& k,
                                           const torch::Tensor& v) {
  const int64_t T = q.size(2);
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(3)));
  torch::Tensor scores = torch::matmul(q, k.transpose(-2, -1)) * scale;  // (B, nh, T, T)
  // True above the diagonal: key position s > query position t is masked out.
  const torch::Tensor future =
      torch::ones({T, T}, q.options().dtype(torch::kBool)).triu(/*diagonal=*/1);  // (T, T)
  scores = scores.masked_fill(future, -std::numeric_limits<float>::infinity());
  torch::Tensor probs = torch::softmax(scores, /*dim=*/-1);  // (B, nh, T, T)
  if (capture_) captured_ = {.probs = probs.detach(), .scores = scores.detach()};
  probs = torch::dropout(probs, dims_.dropout, is_training());
  return torch::matmul(probs, v);  // (B, nh, T, hd)
}

std::optional<std::string> StandardAttention::Unsupported(const torch::Device& device,
                                                          torch::Dtype dtype, int64_t T) const {
  if (T > dims_.block_size) {
    return absl::StrCat("sequence length ", T, " exceeds block_size ", dims_.block_size);
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
