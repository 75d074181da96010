// Performer (FAVOR+): softmax attention approximated with positive orthogonal random
// features, computed causally with prefix sums in O(T m hd).
#ifndef GWO_WORKER_ATTENTION_PERFORMER_H_
#define GWO_WORKER_ATTENTION_PERFORMER_H_

#include "spec/run_spec.h"
#include "worker/attention/attention.h"

namespace gwo::attention {

class PerformerAttention final : public Attention {
 public:
  PerformerAttention(const AttentionDims& dims, const spec::PerformerOptions& options);

  // q, k, v: (B, nh, T, hd) -> (B, nh, T, hd). With capture on, captured().probs are the
  // normalised kernel weights the output equals (probs v); scores stay undefined.
  // In training mode, every redraw_interval-th call first redraws the features.
  torch::Tensor forward(const torch::Tensor& q, const torch::Tensor& k,
                        const torch::Tensor& v) override;
  std::optional<std::string> Unsupported(const torch::Device& device, torch::Dtype dtype,
                                         int64_t T) const override;

  // Draws new features into the `omega` buffer from LibTorch's default generator.
  void Redraw();

 private:
  AttentionDims dims_;
  spec::PerformerOptions options_;
  torch::Tensor omega;          // buffer (m, hd): the random features
  int64_t training_calls_ = 0;  // training forwards since construction (not checkpointed)
};

}  // namespace gwo::attention

#endif  // GWO_WORKER_ATTENTION_PERFORMER_H_
