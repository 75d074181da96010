// Mask-mixture attention: softmax attention reweighted by a learned convex combination
// of a fixed bank of causal masks (causal, windows, strided, sinks).
#ifndef GWO_WORKER_ATTENTION_MASK_MIXTURE_H_
#define GWO_WORKER_ATTENTION_MASK_MIXTURE_H_

#include <vector>

#include "spec/run_spec.h"
#include "worker/attention/attention.h"

namespace gwo::attention {

class MaskMixtureAttention final : public Attention {
 public:
  MaskMixtureAttention(const AttentionDims& dims, const spec::MaskMixtureOptions& options);

  // q, k, v: (B, nh, T, hd) -> (B, nh, T, hd). captured().scores are the energies
  // q k^T / sqrt(hd) + log A (A: the mixed mask), -inf where A = 0.
  torch::Tensor forward(const torch::Tensor& q, const torch::Tensor& k,
                        const torch::Tensor& v) override;
  std::optional<std::string> Unsupported(const torch::Device& device, torch::Dtype dtype,
                                         int64_t T) const override;

  // The bank (M, T, T) as 0/1 floats on `device`, in the order of mix_logits' last
  // dimension: causal, one per window (options order), strided (if stride > 0),
  // sinks (if sink_tokens > 0).
  torch::Tensor Bank(int64_t T, const torch::Device& device) const;

 private:
  AttentionDims dims_;
  spec::MaskMixtureOptions options_;
  torch::Tensor mix_logits;  // (nh, M) per head, or (1, M) per layer
};

}  // namespace gwo::attention

#endif  // GWO_WORKER_ATTENTION_MASK_MIXTURE_H_
