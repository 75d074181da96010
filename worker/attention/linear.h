// Linear attention without softmax: the dual form of a linear layer trained by
// gradient descent on the (k_s, v_s) pairs seen so far.
#ifndef GWO_WORKER_ATTENTION_LINEAR_H_
#define GWO_WORKER_ATTENTION_LINEAR_H_

#include "spec/run_spec.h"
#include "worker/attention/attention.h"

namespace gwo::attention {

class LinearAttention final : public Attention {
 public:
  LinearAttention(const AttentionDims& dims, const spec::LinearOptions& options);

  // q, k, v: (B, nh, T, hd) -> (B, nh, T, hd). With capture on, captured().probs holds
  // the signed weights w (B, nh, T, T) with out = w v: rows do NOT sum to 1 (there is no
  // softmax); 0 on the future. captured().scores stays undefined.
  torch::Tensor forward(const torch::Tensor& q, const torch::Tensor& k,
                        const torch::Tensor& v) override;
  std::optional<std::string> Unsupported(const torch::Device& device, torch::Dtype dtype,
                                         int64_t T) const override;

  // The closed form (B, nh, T, T) weights w(t, s) of the doc comment in linear.cc.
  torch::Tensor Weights(const torch::Tensor& q, const torch::Tensor& k) const;

 private:
  AttentionDims dims_;
  spec::LinearOptions options_;
};

}  // namespace gwo::attention

#endif  // GWO_WORKER_ATTENTION_LINEAR_H_
