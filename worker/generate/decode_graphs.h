// CUDA graphs of the batched one-token decode step (models::CausalLm::forward_cached):
// one graph per batch bucket (1, 2, 4, ... up to the cache's rows), captured at
// construction with static inputs and attention over the whole cache (masked), then replayed.
// A step of N rows replays the smallest bucket >= N; rows past N are free cache rows
// whose outputs are ignored. Built only against a CUDA LibTorch (GWO_WITH_CUDA_GRAPHS);
// otherwise Available() is false and the engine decodes eagerly.
#ifndef GWO_WORKER_GENERATE_DECODE_GRAPHS_H_
#define GWO_WORKER_GENERATE_DECODE_GRAPHS_H_

#include <torch/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "worker/models/kv_cache.h"
#include "worker/models/model.h"

namespace gwo::generate {

class DecodeGraphs {
 public:
  // Whether this build can capture CUDA graphs.
  static bool Available();

  // `model` and `cache` (on a CUDA device, holding no sequences yet: capturing writes
  // to it) must outlive this object. Captures every bucket. Throws c10::Error.
  DecodeGraphs(models::CausalLm& model, models::KvCache& cache);
  ~DecodeGraphs();

  // Logits (N, V) of tokens[i] at positions[i] in cache row i, for i < N; writes their
  // keys and values into the cache like forward_cached. Throws c10::Error.
  torch::Tensor Step(const std::vector<int64_t>& tokens, const std::vector<int64_t>& positions);

 private:
  struct Bucket;
  Bucket& BucketFor(int64_t n);
  void Capture(int64_t rows);

  models::CausalLm& model_;
  models::KvCache& cache_;
  std::map<int64_t, std::unique_ptr<Bucket>> buckets_;
};

}  // namespace gwo::generate

#endif  // GWO_WORKER_GENERATE_DECODE_GRAPHS_H_
