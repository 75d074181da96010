#include "worker/models/kv_cache.h"

#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "worker/models/gpt2.h"
#include "worker/models/qwen3.h"

namespace gwo::models {

KvCache AllocateKvCache(const spec::ModelSpec& resolved, int64_t rows, int64_t max_len,
                        const torch::TensorOptions& options) {
  const int64_t n_kv = resolved.n_kv_head > 0 ? resolved.n_kv_head : resolved.n_head;
  const int64_t hd = resolved.head_dim > 0 ? resolved.head_dim : resolved.n_embd / resolved.n_head;
  KvCache cache;
  for (int i = 0; i < resolved.n_layer; ++i) {
    cache.k.push_back(torch::zeros({rows, n_kv, max_len, hd}, options));
    cache.v.push_back(torch::zeros({rows, n_kv, max_len, hd}, options));
  }
  return cache;
}

torch::Tensor CacheSlots(const torch::Tensor& positions, int64_t row0, int64_t n_kv,
                         int64_t max_len) {
  const int64_t B = positions.size(0), T = positions.size(1);
  const auto i64 = positions.options();
  const torch::Tensor row = (torch::arange(B, i64) + row0).view({B, 1, 1});  // (B, 1, 1)
  const torch::Tensor head = torch::arange(n_kv, i64).view({1, n_kv, 1});    // (1, n_kv, 1)
  return ((row * n_kv + head) * max_len + positions.view({B, 1, T})).reshape({-1});
}

torch::Tensor CacheMask(const torch::Tensor& positions, int64_t kv_len, int64_t window) {
  const int64_t B = positions.size(0), T = positions.size(1);
  const torch::Tensor keys = torch::arange(kv_len, positions.options()).view({1, 1, 1, kv_len});
  const torch::Tensor query = positions.view({B, 1, T, 1});
  torch::Tensor mask = keys <= query;  // (B, 1, T, S)
  if (window > 0) mask = mask.logical_and(query - keys < window);
  return mask;
}

CacheStep MakeCacheStep(KvCache& cache, int64_t row0, const std::vector<int64_t>& start, int64_t T,
                        int64_t window, const torch::Device& device) {
  const int64_t B = static_cast<int64_t>(start.size());
  const int64_t kv_len = *std::max_element(start.begin(), start.end()) + T;
  TORCH_CHECK(row0 >= 0 && row0 + B <= cache.rows(), "cache rows [", row0, ", ", row0 + B,
              ") outside the cache's ", cache.rows());
  TORCH_CHECK(kv_len <= cache.max_len(), "position ", kv_len - 1, " exceeds the cache's ",
              cache.max_len());
  const auto i64 = torch::TensorOptions().dtype(torch::kLong);
  // positions[b, t] = start[b] + t, built on the host and copied once.
  const torch::Tensor first = torch::tensor(start, i64).view({B, 1});          // (B, 1)
  const torch::Tensor positions = first + torch::arange(T, i64).view({1, T});  // (B, T)
  const int64_t n_kv = cache.k.at(0).size(1);
  return CacheStep{.cache = &cache,
                   .row0 = row0,
                   .positions = positions.to(device),
                   .mask = CacheMask(positions, kv_len, window).to(device),
                   .kv_len = kv_len,
                   .slots = CacheSlots(positions, row0, n_kv, cache.max_len()).to(device)};
}

torch::Tensor CachedAttention(const torch::Tensor& q, const torch::Tensor& k_new,
                              const torch::Tensor& v_new, const CacheStep& step, int layer) {
  const int64_t B = k_new.size(0), n_kv = k_new.size(1), T = k_new.size(2);
  const int64_t nh = q.size(1);
  TORCH_CHECK(nh % n_kv == 0, "query heads ", nh, " are not a multiple of k/v heads ", n_kv);
  torch::Tensor& k_all = step.cache->k.at(layer);  // (rows, n_kv, S_max, hd)
  torch::Tensor& v_all = step.cache->v.at(layer);
  const int64_t hd = k_all.size(3);
  // k_all[row0 + b, h, positions[b, t]] = k_new[b, h, t] for every b, h, t, as one
  // index_copy_ over the flat rows (the slots are computed once per step).
  k_all.view({-1, hd}).index_copy_(0, step.slots, k_new.reshape({-1, hd}).to(k_all.scalar_type()));
  v_all.view({-1, hd}).index_copy_(0, step.slots, v_new.reshape({-1, hd}).to(v_all.scalar_type()));
  torch::Tensor k_cache = k_all.narrow(0, step.row0, B);  // (B, n_kv, S_max, hd)
  torch::Tensor v_cache = v_all.narrow(0, step.row0, B);
  torch::Tensor k = k_cache.narrow(2, 0, step.kv_len);  // (B, n_kv, S, hd)
  torch::Tensor v = v_cache.narrow(2, 0, step.kv_len);
  torch::Tensor qg = q.to(k.scalar_type());
  const int64_t n_rep = nh / n_kv;
  if (n_rep > 1) {
    // Group the query heads of each k/v head: (B, nh, T, hd) -> (B, n_kv, n_rep * T, hd),
    // so no copy of the cache is needed; the mask repeats along the rows.
    qg = qg.reshape({B, n_kv, n_rep * T, q.size(3)});
  }
  const torch::Tensor mask =
      n_rep > 1 ? step.mask.repeat({1, 1, n_rep, 1}) : step.mask;  // (B, 1, n_rep*T, S)
  torch::Tensor y;
#if TORCH_VERSION_MAJOR >= 2
  y = at::scaled_dot_product_attention(qg, k, v, mask);  // (B, n_kv, n_rep*T, hd)
#else
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(3)));
  torch::Tensor scores = torch::matmul(qg, k.transpose(-2, -1)) * scale;  // (B, n_kv, n_rep*T, S)
  scores = scores.masked_fill(mask.logical_not(), -std::numeric_limits<float>::infinity());
  y = torch::matmul(torch::softmax(scores, -1), v);
#endif
  return y.reshape({B, nh, T, q.size(3)}).to(q.scalar_type());  // (B, nh, T, hd)
}

torch::Tensor ForwardCached(CausalLm& model, const torch::Tensor& idx, const CacheStep& step) {
  if (auto* gpt2 = dynamic_cast<Gpt2Impl*>(&model)) return gpt2->forward_cached(idx, step);
  if (auto* qwen3 = dynamic_cast<Qwen3Impl*>(&model)) return qwen3->forward_cached(idx, step);
  TORCH_CHECK(false, "model arch '", model.spec().arch, "' has no cached decoding path");
}

bool SupportsKvCache(std::string_view attention_kind) {
  return attention_kind == "standard" || attention_kind == "natural";
}

}  // namespace gwo::models
