// Natural attention: standard causal softmax attention that keeps each forward's
// pre-softmax energies for the attention-informed optimizer.
#ifndef GWO_WORKER_ATTENTION_NATURAL_H_
#define GWO_WORKER_ATTENTION_NATURAL_H_

#include "worker/attention/attention.h"

namespace gwo::attention {

class NaturalAttention final : public Attention {
 public:
  explicit NaturalAttention(const AttentionDims& dims);

  // Same output as StandardAttention. Every call (training or eval, capture on or off)
  // replaces captured().scores with this call's energies q k^T / sqrt(hd), (B, nh, T, T),
  // detached, -inf on the future; captured().probs is filled only while capture() is
  // on (undefined otherwise). set_capture(false) clears both until the next forward.
  torch::Tensor forward(const torch::Tensor& q, const torch::Tensor& k,
                        const torch::Tensor& v) override;
  std::optional<std::string> Unsupported(const torch::Device& device, torch::Dtype dtype,
                                         int64_t T) const override;

 private:
  AttentionDims dims_;
};

}  // namespace gwo::attention

#endif  // GWO_WORKER_ATTENTION_NATURAL_H_
