// Choosing the next token from logits, per row of a batch, each row with its own
// temperature, top-k, top-p and random stream.
#ifndef GWO_WORKER_GENERATE_SAMPLING_H_
#define GWO_WORKER_GENERATE_SAMPLING_H_

#include <torch/types.h>

#include <cstdint>
#include <random>
#include <vector>

#include "worker/generate/request.h"

namespace gwo::generate {


// The distribution each sampled row draws from: softmax(logits / temperature)
// restricted to the top_k most likely tokens and then to the smallest prefix (by
// probability, descending) whose mass reaches top_p (the most likely token is always
// kept), renormalised. logits: (N, V) float; params: N entries (greedy rows are
// computed as temperature 1). Returns (N, V) float32 probabilities, 0 outside the
// kept set, on logits' device.
torch::Tensor SamplingDistribution(const torch::Tensor& logits,
                                   const std::vector<SamplingParams>& params);

// The next token of each row: argmax for greedy rows, otherwise a draw from
// SamplingDistribution by inverse CDF with one uniform number from rngs[i] (so a
// row's tokens depend only on its seed and its logits, not on the batch it is in).
// logits: (N, V); params, rngs: N entries. One device-to-host copy.
std::vector<int32_t> SampleTokens(const torch::Tensor& logits,
                                  const std::vector<SamplingParams>& params,
                                  std::vector<std::mt19937_64*>& rngs);

}  // namespace gwo::generate

#endif  // GWO_WORKER_GENERATE_SAMPLING_H_
