// GWO factorized attention: q and k each pass through a gated, low-rank multiplicative
// interaction before causal softmax attention with a learned per-head temperature.
#ifndef GWO_WORKER_ATTENTION_FACTORIZED_H_
#define GWO_WORKER_ATTENTION_FACTORIZED_H_

#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "spec/run_spec.h"
#include "worker/attention/attention.h"

namespace gwo::attention {

class FactorizedAttention final : public Attention {
 public:
  FactorizedAttention(const AttentionDims& dims, const spec::FactorizedOptions& options);

  // q, k, v: (B, nh, T, hd) -> (B, nh, T, hd).
  torch::Tensor forward(const torch::Tensor& q, const torch::Tensor& k,
                        const torch::Tensor& v) override;
  std::optional<std::string> Unsupported(const torch::Device& device, torch::Dtype dtype,
                                         int64_t T) const override;

 private:
  AttentionDims dims_;
  torch::nn::LayerNorm ln_q{nullptr}, ln_k{nullptr};
  torch::nn::Linear q_w1{nullptr}, q_w2{nullptr}, q_out{nullptr};
  torch::nn::Linear k_w3{nullptr}, k_w4{nullptr}, k_out{nullptr};
  torch::Tensor alpha_q, alpha_k, log_temperature;  // (nh) each
};

}  // namespace gwo::attention

#endif  // GWO_WORKER_ATTENTION_FACTORIZED_H_
