// The generation engine: one loaded model serving many requests at once. Requests
// join a running batch between decode steps (continuous batching): the requests
// admitted in one round take free rows of a preallocated key/value cache and are
// prefilled together (batched forwards over their prompts, right-padded to the
// longest), then every active request advances by one token in a single batched
// forward step. Finished or cancelled requests leave at step boundaries; their rows
// are reused.
//
// Attention kinds that SupportsKvCache (models/kv_cache.h) decode incrementally;
// others recompute each request's whole sequence every step (same tokens, slower).
#ifndef GWO_WORKER_GENERATE_ENGINE_H_
#define GWO_WORKER_GENERATE_ENGINE_H_

#include <torch/types.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "spec/run_spec.h"
#include "worker/data/tokenizer.h"
#include "worker/generate/decode_graphs.h"
#include "worker/generate/fused_decode.h"
#include "worker/generate/request.h"
#include "worker/generate/sampling.h"
#include "worker/models/kv_cache.h"
#include "worker/models/model.h"

namespace gwo::generate {

using EventSink = std::function<void(const GenerateEvent&)>;

struct EngineOptions {
  torch::Device device = torch::kCPU;
  torch::Dtype dtype = torch::kFloat32;  // weights, activations and the cache
  int max_batch = 32;                    // requests decoded together at most
  bool use_kv_cache = true;              // false: always recompute (for tests)
  // On CUDA, replay captured graphs of the decode step (decode_graphs.h) when this
  // build can; prefill stays eager.
  bool cuda_graphs = true;
  // On CUDA, decode batches of at most 32 greedy rows of a GPT-2 in bf16 with the fused
  // kernels (fused_decode.h), `fused_steps` tokens per graph replay, when this build has
  // them; other batches take the LibTorch path.
  bool fused_decode = true;
  int fused_steps = 8;
  // Fused batches of at least this many rows use tensor cores, smaller ones CUDA cores
  // (faster for one request). 1: every batch computes alike, so a request's greedy
  // tokens do not depend on which requests share its steps.
  int fused_tensor_core_rows = 4;
  // Prefill forwards padded to few shapes (rows to a power of two where the cache has
  // the rows, tokens to a multiple of 16): on a GPU a new shape costs its first call
  // extra time (library plans, workspaces); with this, and the buckets warmed at load,
  // one request's first token on the H100 bench went from 9.5 to 6.9 ms (medians).
  // 1: on, 0: off, -1: on CUDA only (then the row buckets at 16 tokens are also run
  // once at start).
  int prefill_buckets = -1;
};

class Engine {
 public:
  // Takes the model (moved to options.device/dtype, eval mode) and the run's
  // tokenizer, captures the decode graphs if any, and starts the engine's thread.
  // Throws c10::Error from LibTorch (e.g. out of memory). `spec`: the run spec the model was built
  // from (its attention kind decides the decoding path).
  Engine(std::shared_ptr<models::CausalLm> model, std::unique_ptr<data::Tokenizer> tokenizer,
         spec::RunSpec spec, EngineOptions options);
  // Ends every request with "cancelled" and joins the thread.
  ~Engine();

  // Queues a request under `id` (unique among live requests); `sink` is called from
  // the engine's thread. INVALID_ARGUMENT (nothing queued, sink not called) for
  // max_tokens < 1, top_p outside (0, 1], top_k < 0, an empty prompt without an
  // end-of-text token, or a prompt of block_size tokens or more; ALREADY_EXISTS for a
  // live id.
  absl::Status Submit(uint64_t id, GenerateRequest request, EventSink sink);

  // Ends request `id` with "cancelled" at the next step boundary; no-op if unknown.
  void Cancel(uint64_t id);

  // While paused the engine starts no scheduling round (one under way finishes):
  // requests submitted meanwhile wait, and the first round after Resume admits them
  // together (up to max_batch), so they are prefilled in the same forward passes.
  // Cancellations take effect after Resume; destruction does not wait for it.
  void Pause();
  void Resume();

  // Requests queued or running.
  int live() const;
  bool uses_kv_cache() const { return cached_; }
  bool uses_cuda_graphs() const { return graphs_ != nullptr; }
  bool uses_fused_decode() const { return fused_ != nullptr; }
  const spec::RunSpec& spec() const { return spec_; }

 private:
  struct Active;
  void Loop();
  // One scheduling round: admit queued requests, decode one token for every active
  // one, retire the finished. Throws c10::Error from LibTorch (Loop catches).
  void Round();
  // Computes the first token of the requests just admitted, active_[first:] (cache
  // rows first.. onwards), samples them together and retires those already finished.
  // Cached: batched forwards over at most kPrefillRows rows and kPrefillTokens padded
  // tokens each; otherwise one recomputation per request.
  void Prefill(size_t first);
  // Logits (end - first, V) at each prompt's last token for active_[first, end), by
  // one cached forward over the prompts right-padded to the longest.
  torch::Tensor PrefillCached(size_t first, size_t end);
  void WarmPrefillShapes();
  bool bucket_prefill_ = false;
  // Bounds of one prefill forward: its activations and logits (rows, T_max, V) grow
  // with rows * T_max (padded tokens). A single prompt longer than kPrefillTokens
  // still gets a forward of its own.
  static constexpr int64_t kPrefillRows = 32;
  static constexpr int64_t kPrefillTokens = 4096;
  void DecodeStep();
  // DecodeStep through fused_: whether the batch qualifies, the step, and dropping a
  // chunk computed for an earlier batch.
  bool UseFused() const;
  void DecodeFused();
  void DrainFused();
  // Records `token` for a and sends its text in an event, or with `defer` keeps the
  // text for Flush (or Retire). Returns true when the request is finished.
  bool Accept(Active& a, int32_t token, bool defer = false);
  // Sends a's deferred text and tokens in one event, if there is text.
  void Flush(Active& a);
  void Retire(size_t index, const std::string& reason, absl::Status status = absl::OkStatus());
  torch::Tensor RecomputeLogits(const Active& a);  // (V)

  std::shared_ptr<models::CausalLm> model_;
  std::unique_ptr<data::Tokenizer> tokenizer_;
  const spec::RunSpec spec_;
  const EngineOptions options_;
  bool cached_ = false;
  models::KvCache* cache_ = nullptr;  // owned by cache_storage_
  std::unique_ptr<models::KvCache> cache_storage_;
  std::unique_ptr<DecodeGraphs> graphs_;  // null: eager decode steps
  std::unique_ptr<FusedDecoder> fused_;   // null: no fused decoding
  uint64_t batch_version_ = 0;  // bumped whenever active_ gains or loses a request
  uint64_t fused_version_ = 0;  // batch_version_ when fused_'s chunks in flight started

  mutable absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool paused_ ABSL_GUARDED_BY(mu_) = false;
  struct Pending {
    uint64_t id;
    GenerateRequest request;
    std::vector<int32_t> prompt_ids;
    EventSink sink;
  };
  std::deque<Pending> pending_ ABSL_GUARDED_BY(mu_);
  std::vector<uint64_t> cancelled_ ABSL_GUARDED_BY(mu_);
  std::vector<uint64_t> live_ids_ ABSL_GUARDED_BY(mu_);

  // Only the engine's thread touches these. active_[i] owns cache row i.
  std::vector<std::unique_ptr<Active>> active_;
  std::thread thread_;
};

}  // namespace gwo::generate

#endif  // GWO_WORKER_GENERATE_ENGINE_H_
