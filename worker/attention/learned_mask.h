// Learned-mask attention: a gating network scores past key blocks per query and keeps
// the top_k of them (plus the query's own block); gradients reach the gate through a
// straight-through estimator or a soft relaxation.
#ifndef GWO_WORKER_ATTENTION_LEARNED_MASK_H_
#define GWO_WORKER_ATTENTION_LEARNED_MASK_H_

#include <torch/nn/modules/linear.h>

#include "spec/run_spec.h"
#include "worker/attention/attention.h"

namespace gwo::attention {

class LearnedMaskAttention final : public Attention {
 public:
  LearnedMaskAttention(const AttentionDims& dims, const spec::LearnedMaskOptions& options);

  // q, k, v: (B, nh, T, hd) -> (B, nh, T, hd). captured().scores are the energies
  // q k^T / sqrt(hd) + log m (m: the block weights), -inf on dropped blocks.
  torch::Tensor forward(const torch::Tensor& q, const torch::Tensor& k,
                        const torch::Tensor& v) override;
  std::optional<std::string> Unsupported(const torch::Device& device, torch::Dtype dtype,
                                         int64_t T) const override;

 private:
  AttentionDims dims_;
  spec::LearnedMaskOptions options_;
  torch::nn::Linear gate_q{nullptr}, gate_k{nullptr};  // hd -> hd, shared by heads
};

}  // namespace gwo::attention

#endif  // GWO_WORKER_ATTENTION_LEARNED_MASK_H_
