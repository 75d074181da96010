// Learned-mask attention. Keys are cut into nb = ceil(T / block) blocks; query t lives
// in block b(t) = t / block. Blocks j < b(t) are complete and past ("eligible"):
//
//   kbar_j = mean of k over block j                           (B, nh, nb, hd)
//   g(t,j) = gate_q(q_t) . gate_k(kbar_j) / sqrt(hd)          (B, nh, T, nb)
//   keep   = top_k of g over eligible j (hard 0/1)            (B, nh, T, nb)
//   m(t,j) = 1 for j = b(t); for eligible j:
//              straight_through: keep + sigmoid(g) - stopgrad(sigmoid(g))  (forward: keep)
//              soft:             keep * sigmoid(g)
//            0 otherwise; m(t, s) = m(t, s / block)
//   p(t,s) = m(t,s) exp(q_t . k_s / sqrt(hd)) / sum_{s' <= t} (same), s <= t     (B, nh, T, T)
//   out    = p v                                              (B, nh, T, hd)
//
// The own block is never gated (its mean would include future keys). With top_k >= nb
// and straight_through this is standard attention. O(T^2) dense reference.
#include "worker/attention/learned_mask.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "worker/attention/common.h"

namespace gwo::attention {

using torch::indexing::Slice;

LearnedMaskAttention::LearnedMaskAttention(const AttentionDims& dims,
                                           const spec::LearnedMaskOptions& options)
    : Attention("LearnedMaskAttention"), dims_(dims), options_(options) {
  gate_q = register_module("gate_q", torch::nn::Linear(dims.head_dim, dims.head_dim));
  gate_k = register_module("gate_k", torch::nn::Linear(dims.head_dim, dims.head_dim));
}

torch::Tensor LearnedMaskAttention::forward(const torch::Tensor& q, const torch::Tensor& k,
                                            const torch::Tensor& v) {
  CheckInputs(dims_, q, k, v);
  const int64_t B = q.size(0), H = q.size(1), T = q.size(2), hd = q.size(3);
  const int64_t block = options_.block, nb = (T + block - 1) / block;
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  // Block means of the keys, zero-padded to nb * block (padding only reaches the last
  // block, which is never eligible).
  const torch::Tensor k_pad = torch::constant_pad_nd(k, {0, 0, 0, nb * block - T});  // (B, H, nb*block, hd)
  const torch::Tensor k_mean = k_pad.view({B, H, nb, block, hd}).mean(3);           // (B, H, nb, hd)
  const torch::Tensor g =
      torch::matmul(gate_q(q), gate_k(k_mean).transpose(-2, -1)) * scale;  // (B, H, T, nb)

  const auto long_opts = torch::TensorOptions().dtype(torch::kLong).device(q.device());
  const torch::Tensor own = torch::div(torch::arange(T, long_opts), block, "floor").unsqueeze(1);  // (T, 1)
  const torch::Tensor j = torch::arange(nb, long_opts).unsqueeze(0);             // (1, nb)
  const torch::Tensor eligible = j < own;                                        // (T, nb)
  const torch::Tensor is_own = j == own;                                         // (T, nb)
  const int64_t top_k = std::min<int64_t>(options_.top_k, nb);
  const torch::Tensor ranked =
      g.detach().masked_fill(eligible.logical_not(), -std::numeric_limits<float>::infinity());
  const torch::Tensor top = std::get<1>(ranked.topk(top_k, -1));                  // (B, H, T, top_k)
  const torch::Tensor keep =
      torch::zeros_like(g).scatter(-1, top, 1.0) * eligible.to(g.scalar_type());  // (B, H, T, nb)
  const torch::Tensor gate = torch::sigmoid(g);
  const torch::Tensor relaxed = options_.relaxation == "soft" ? keep * gate
                                                              : keep + gate - gate.detach();
  const torch::Tensor m_block =
      torch::where(is_own, torch::ones_like(g), relaxed * eligible.to(g.scalar_type()));  // (B, H, T, nb)
  const torch::Tensor m = m_block.repeat_interleave(block, -1).index({Slice(), Slice(), Slice(), Slice(0, T)});  // (B, H, T, T)
  const torch::Tensor kept_block = is_own | (keep > 0);                       // (B, H, T, nb)
  const torch::Tensor visible =
      kept_block.repeat_interleave(block, -1).index({Slice(), Slice(), Slice(), Slice(0, T)}) &
      CausalVisible(T, q.device());                                            // (B, H, T, T)

  const torch::Tensor scores = torch::matmul(q, k.transpose(-2, -1)) * scale;  // (B, H, T, T)
  torch::Tensor probs = MaskedSoftmax(scores, visible) * m;
  probs = probs / probs.sum(-1, /*keepdim=*/true);  // the own block keeps every row > 0
  if (capture_) {
    captured_ = {.probs = probs.detach(),
                 .scores = (scores + torch::log(m.clamp_min(std::numeric_limits<float>::min())))
                               .detach()
                               .masked_fill(visible.logical_not(),
                                            -std::numeric_limits<float>::infinity())};
  }
  probs = torch::dropout(probs, dims_.dropout, is_training());
  return torch::matmul(probs, v);  // (B, H, T, hd)
}

std::optional<std::string> LearnedMaskAttention::Unsupported(const torch::Device& device,
                                                             torch::Dtype dtype, int64_t T) const {
  if (options_.block > dims_.block_size) {
    return absl::StrCat("attention.block (", options_.block, ") exceeds the model's block_size (",
                        dims_.block_size, "): every query would see only its own block");
  }
  return CommonUnsupported(dims_, device, dtype, T);
}

}  // namespace gwo::attention
