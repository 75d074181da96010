// Standard causal softmax attention (GPT-2's).
#ifndef GWO_WORKER_ATTENTION_STANDARD_H_
#define GWO_WORKER_ATTENTION_STANDARD_H_

#include "worker/attention/attention.h"

namespace gwo::attention {

class StandardAttention final : public Attention {
 public:
  explicit StandardAttention(const AttentionDims& dims);

  // softmax(q k^T / sqrt(hd) + causal mask) v, with dropout on the probabilities.
  // q, k, v: (B, nh, T, hd) -> (B, nh, T, hd).
  torch::Tensor forward(const torch::Tensor& q, const torch::Tensor& k,
                        const torch::Tensor& v) override;

  std::optional<std::string> Unsupported(const torch::Device& device, torch::Dtype dtype,
                                         int64_t T) const override;

  // The plain LibTorch path, written out step by step; forward() uses it unless a
  // fused kernel is available (LibTorch >= 2.0). Same contract as forward().
  torch::Tensor Reference(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v);

 private:
  AttentionDims dims_;
};

}  // namespace gwo::attention

#endif  // GWO_WORKER_ATTENTION_STANDARD_H_
