// Pieces the attention variants share: visibility masks, a softmax over visible keys,
// dense masked attention with capture, chunked causal prefix sums, and the checks
// every Unsupported() starts with. Shapes: B batch, nh heads, T queries = keys.
#ifndef GWO_WORKER_ATTENTION_COMMON_H_
#define GWO_WORKER_ATTENTION_COMMON_H_

#include <torch/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "worker/attention/attention.h"

namespace gwo::attention {

// (T, T) bool, true where key s is visible to query t: s <= t.
torch::Tensor CausalVisible(int64_t T, const torch::Device& device);

// (T, T) bool: s <= t and (t - s < window or s < sinks).
torch::Tensor WindowVisible(int64_t T, int64_t window, int64_t sinks, const torch::Device& device);

// Softmax of scores (..., T, S) over the keys where `visible` (broadcastable bool) is
// true; 0 elsewhere, and rows without any visible key are all 0 (never NaN).
torch::Tensor MaskedSoftmax(const torch::Tensor& scores, const torch::Tensor& visible);

// softmax(q k^T * scale over visible keys) v with dropout p on the probabilities while
// `training`. q, k, v: (B, nh, T, hd); visible (T, T) or (B, nh, T, T) bool. Fills *capture (probs, and scores
// with -inf where not visible) when capture is non-null. Returns (B, nh, T, hd).
torch::Tensor MaskedAttention(const torch::Tensor& q, const torch::Tensor& k,
                              const torch::Tensor& v, const torch::Tensor& visible, double scale,
                              double dropout, bool training, AttentionCapture* capture);

// out_t = sum_{s <= t} (fq_t . fk_s) v_s for fq, fk (B, nh, T, m) and v (B, nh, T, d),
// computed in chunks of `chunk` queries: quadratic inside a chunk, a running
// (m, d) state sum_s fk_s v_s^T across chunks. Returns (B, nh, T, d).
torch::Tensor CausalPrefixProduct(const torch::Tensor& fq, const torch::Tensor& fk,
                                  const torch::Tensor& v, int64_t chunk = 64);

// Checks q, k, v are (B, nh, T, hd) of equal shape with nh, hd of `dims` and T <= block_size.
void CheckInputs(const AttentionDims& dims, const torch::Tensor& q, const torch::Tensor& k,
                 const torch::Tensor& v);

// Why no variant runs here: T > block_size, a non-floating dtype, float16 on CPU.
std::optional<std::string> CommonUnsupported(const AttentionDims& dims, const torch::Device& device,
                                             torch::Dtype dtype, int64_t T);

}  // namespace gwo::attention

#endif  // GWO_WORKER_ATTENTION_COMMON_H_
