// Key/value caches for incremental decoding: a model run over a batch of sequences
// one (or a few) tokens at a time, reading the keys and values of earlier positions
// from a cache instead of recomputing them. The attention of a cached step is plain
// causal softmax attention (optionally windowed), which is what the "standard"
// variant computes; generation falls back to full recomputation for variants whose
// math differs (see SupportsKvCache).
#ifndef GWO_WORKER_MODELS_KV_CACHE_H_
#define GWO_WORKER_MODELS_KV_CACHE_H_

#include <torch/types.h>

#include <cstdint>
#include <string_view>
#include <vector>

#include "spec/run_spec.h"

namespace gwo::models {

// Preallocated keys and values of every layer for `rows` sequences of up to
// `max_len` positions. Row r of the cache holds one sequence; which rows a step
// reads and writes is chosen by CacheStep.
struct KvCache {
  std::vector<torch::Tensor> k;  // per layer (rows, n_kv, max_len, hd)
  std::vector<torch::Tensor> v;  // per layer (rows, n_kv, max_len, hd)

  int64_t rows() const { return k.empty() ? 0 : k[0].size(0); }
  int64_t max_len() const { return k.empty() ? 0 : k[0].size(2); }
};

// Zero-filled caches for the resolved model spec (n_layer, n_kv_head or n_head,
// head_dim) with `options`' device and dtype.
KvCache AllocateKvCache(const spec::ModelSpec& resolved, int64_t rows, int64_t max_len,
                        const torch::TensorOptions& options);

// One cached forward step over cache rows [row0, row0 + B): token t of row b sits at
// position positions[b, t]. Keys [0, kv_len) of each row are attended to, masked
// causally (a query at position p sees keys at positions <= p, and with window > 0
// only those with p - s < window).
struct CacheStep {
  KvCache* cache = nullptr;
  int64_t row0 = 0;
  torch::Tensor positions;  // (B, T) int64 on the model's device
  torch::Tensor mask;       // (B, 1, T, kv_len) bool, true where a query may see a key
  int64_t kv_len = 0;       // > max(positions); <= cache->max_len()
  torch::Tensor slots;      // (B * n_kv * T) int64: CacheSlots, where new keys go
};

// Where the keys and values of a step go in a layer's cache viewed as
// (rows * n_kv * max_len, hd): ((row0 + b) * n_kv + h) * max_len + positions[b, t],
// in (b, h, t) order. positions: (B, T) int64; the result is on its device.
torch::Tensor CacheSlots(const torch::Tensor& positions, int64_t row0, int64_t n_kv,
                         int64_t max_len);

// The attention mask of a step: (B, 1, T, kv_len) bool, true where key s <= positions[b, t]
// (and, with window > 0, positions[b, t] - s < window). On positions' device.
torch::Tensor CacheMask(const torch::Tensor& positions, int64_t kv_len, int64_t window);

// A CacheStep for rows [row0, row0 + B) whose tokens idx[:, 0] sit at start[b]
// (host values, one per row) and continue for T positions. window: as above.
CacheStep MakeCacheStep(KvCache& cache, int64_t row0, const std::vector<int64_t>& start, int64_t T,
                        int64_t window, const torch::Device& device);

// Writes k_new, v_new (B, n_kv, T, hd) into layer `layer` of step.cache at the
// step's rows and positions, then returns softmax(q k^T / sqrt(hd) + mask) v over the
// cached keys: q (B, nh, T, hd) -> (B, nh, T, hd). nh must be a multiple of n_kv
// (grouped-query attention repeats each k/v head for nh / n_kv query heads).
torch::Tensor CachedAttention(const torch::Tensor& q, const torch::Tensor& k_new,
                              const torch::Tensor& v_new, const CacheStep& step, int layer);

class CausalLm;

// Incremental decoding of `model` with a key/value cache: idx (B, T) are the tokens at
// step.positions of cache rows [step.row0, step.row0 + B); their keys and values are
// written into step.cache. Returns logits (B, T, V), equal (up to rounding) to
// model.forward() over each row's whole sequence when the attention kind
// SupportsKvCache. GPT-2 and Qwen3 have this path; other archs throw c10::Error.
torch::Tensor ForwardCached(CausalLm& model, const torch::Tensor& idx, const CacheStep& step);

// Whether the attention kind computes causal softmax attention, so that the cached
// path of CachedAttention reproduces it: "standard" and "natural" (whose forward is
// standard attention; it differs in how it trains). Other kinds decode by
// recomputing the whole sequence each step.
bool SupportsKvCache(std::string_view attention_kind);

}  // namespace gwo::models

#endif  // GWO_WORKER_MODELS_KV_CACHE_H_
