// Greedy GPT-2 decoding of up to 32 rows through the fused kernels of fused_gpt2.h:
// chunks of `steps` consecutive decode steps, each chunk one CUDA graph replay (the
// argmax token is fed back on the device), whose tokens come back to the host with one
// copy. A chunk can be enqueued behind the one in flight (Continue), so the host
// handles one chunk's tokens while the GPU computes the next. Built only with CUDA
// (GWO_WITH_FUSED_DECODE); otherwise Available() is false.
#ifndef GWO_WORKER_GENERATE_FUSED_DECODE_H_
#define GWO_WORKER_GENERATE_FUSED_DECODE_H_

#include <torch/types.h>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "worker/models/kv_cache.h"
#include "worker/models/model.h"

namespace gwo::generate {

class FusedDecoder {
 public:
  // Whether this build has the fused kernels.
  static bool Available();
  // Whether the current GPU takes programmatic dependent launches (sm_90 and newer).
  static bool SupportsProgrammaticLaunches();

  // Empty when `model` (a GPT-2 without LoRA adapters, bf16 on CUDA, head dim 64) with
  // `cache` (its rows, contiguous) can decode here; otherwise why not.
  static std::string Unsupported(const models::CausalLm& model, const models::KvCache& cache);

  // `model` and `cache` (holding no sequences yet: warm-up writes rows 0..31) must
  // outlive this object and pass Unsupported. Captures one graph of `steps` steps per
  // batch bucket (1, 2, 4, ..., 32, up to the cache's rows). On sm_90 and newer the
  // kernels are programmatic dependent launches unless GWO_FUSED_PDL=0 (or their
  // capture fails). Buckets of at least `tensor_core_rows` rows use tensor cores
  // (fused_gpt2.h; 1: all, so a row's tokens do not depend on the batch). Throws c10::Error.
  FusedDecoder(models::CausalLm& model, models::KvCache& cache, int steps,
               int tensor_core_rows = 4);
  ~FusedDecoder();

  int max_rows() const { return max_rows_; }
  int steps() const { return steps_; }
  int in_flight() const { return static_cast<int>(queue_.size()); }
  // Whether the graphs use programmatic dependent launches.
  bool programmatic_launches() const;

  // Enqueues a chunk for cache rows [0, N), N = tokens.size() <= max_rows(): row i
  // feeds tokens[i] at positions[i] (< the cache's max_len). Needs in_flight() == 0.
  void Start(const std::vector<int64_t>& tokens, const std::vector<int64_t>& positions);
  // Enqueues the next chunk of the same rows, continuing where the last one ends.
  // Needs a Start before and in_flight() < 2.
  void Continue();
  // Waits for the oldest chunk in flight; its tokens, step-major: [k * N + i] is row
  // i's token after k + 1 steps. Throws c10::Error when none is in flight.
  std::vector<int32_t> Wait();

  // One step outside any graph (tests): logits (N, V) float32 of tokens at positions,
  // keys and values written into the cache. Needs in_flight() == 0.
  torch::Tensor StepLogits(const std::vector<int64_t>& tokens, const std::vector<int64_t>& positions);

 private:
  struct State;
  void Capture();  // the graph of every bucket
  int Bucket(int n) const;
  void Upload(const std::vector<int64_t>& tokens, const std::vector<int64_t>& positions);

  std::unique_ptr<State> s_;
  int max_rows_ = 0;
  int steps_ = 0;
  int n_ = 0;  // rows of the last Start
  std::deque<int64_t> queue_;  // sequence numbers of chunks in flight
  int64_t next_seq_ = 0;
};

}  // namespace gwo::generate

#endif  // GWO_WORKER_GENERATE_FUSED_DECODE_H_
