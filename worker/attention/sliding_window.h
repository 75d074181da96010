// Sliding-window attention: each query sees the last `window` keys (itself included)
// and the first `sink_tokens` keys.
#ifndef GWO_WORKER_ATTENTION_SLIDING_WINDOW_H_
#define GWO_WORKER_ATTENTION_SLIDING_WINDOW_H_

#include "spec/run_spec.h"
#include "worker/attention/attention.h"

namespace gwo::attention {

class SlidingWindowAttention final : public Attention {
 public:
  SlidingWindowAttention(const AttentionDims& dims, const spec::SlidingWindowOptions& options);

  // q, k, v: (B, nh, T, hd) -> (B, nh, T, hd).
  torch::Tensor forward(const torch::Tensor& q, const torch::Tensor& k,
                        const torch::Tensor& v) override;
  std::optional<std::string> Unsupported(const torch::Device& device, torch::Dtype dtype,
                                         int64_t T) const override;

 private:
  AttentionDims dims_;
  spec::SlidingWindowOptions options_;
};

}  // namespace gwo::attention

#endif  // GWO_WORKER_ATTENTION_SLIDING_WINDOW_H_
