// Natural attention (for the attention-informed optimizer).
//
//   E   = q k^T / sqrt(hd), -inf where s > t      (B, nh, T, T)  kept: captured().scores
//   out = softmax(E) v                            (B, nh, T, hd)
//
// Always takes the plain path (the energies must be materialised), so it costs
// (B, nh, T, T) memory per layer until the next forward replaces them.
#include "worker/attention/natural.h"

#include <torch/torch.h>

#include <cmath>

#include "worker/attention/common.h"

namespace gwo::attention {

NaturalAttention::NaturalAttention(const AttentionDims& dims)
    : Attention("NaturalAttention"), dims_(dims) {}

torch::Tensor NaturalAttention::forward(const torch::Tensor& q, const torch::Tensor& k,
                                        const torch::Tensor& v) {
  CheckInputs(dims_, q, k, v);
  AttentionCapture recorded;
  torch::Tensor out =
      MaskedAttention(q, k, v, CausalVisible(q.size(2), q.device()),
                      1.0 / std::sqrt(static_cast<double>(q.size(3))), dims_.dropout,
                      is_training(), &recorded);
  captured_.scores = recorded.scores;
  captured_.probs = capture_ ? recorded.probs : torch::Tensor();
  return out;
}

std::optional<std::string> NaturalAttention::Unsupported(const torch::Device& device,
                                                         torch::Dtype dtype, int64_t T) const {
  return CommonUnsupported(dims_, device, dtype, T);
}

}  // namespace gwo::attention
