// Native Sparse Attention (Yuan et al., 2025): a compressed-block branch, a top-n
// selected-block branch and a sliding-window branch, mixed by learned per-query gates.
#ifndef GWO_WORKER_ATTENTION_NSA_H_
#define GWO_WORKER_ATTENTION_NSA_H_

#include <torch/nn/modules/linear.h>

#include "spec/run_spec.h"
#include "worker/attention/attention.h"

namespace gwo::attention {

// Each branch's output and the gates, for tests and metrics.
struct NsaBranches {
  torch::Tensor compressed;  // (B, nh, T, hd); 0 for queries before the first complete block
  torch::Tensor selected;    // (B, nh, T, hd)
  torch::Tensor window;      // (B, nh, T, hd)
  torch::Tensor gates;       // (B, nh, T, 3): sigmoid gates of compressed, selected, window
  torch::Tensor probs;       // (B, nh, T, T): see forward(); only when asked for
};

class NsaAttention final : public Attention {
 public:
  NsaAttention(const AttentionDims& dims, const spec::NsaOptions& options);

  // q, k, v: (B, nh, T, hd) -> (B, nh, T, hd). With capture on, captured().probs is the
  // gate-weighted mix of the branches' probabilities, normalised by the gates in use,
  // with a compressed block's weight spread evenly over its keys (the compressed
  // branch mixes values through compress_v, so this is approximate for it); scores
  // stay undefined.
  torch::Tensor forward(const torch::Tensor& q, const torch::Tensor& k,
                        const torch::Tensor& v) override;
  std::optional<std::string> Unsupported(const torch::Device& device, torch::Dtype dtype,
                                         int64_t T) const override;

  // The three branches and gates; forward() = sum of gates * branches.
  NsaBranches Branches(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                       bool with_probs);

 private:
  AttentionDims dims_;
  spec::NsaOptions options_;
  torch::nn::Linear compress_k{nullptr}, compress_v{nullptr};  // block*hd -> hd
  torch::nn::Linear gate{nullptr};                             // hd -> 3
};

}  // namespace gwo::attention

#endif  // GWO_WORKER_ATTENTION_NSA_H_
