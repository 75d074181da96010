#include "worker/generate/decode_graphs.h"

#include <torch/torch.h>

#ifdef GWO_WITH_CUDA_GRAPHS
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace gwo::generate {

struct DecodeGraphs::Bucket {
  int64_t rows = 0;
  torch::Tensor staging;    // (2, b) int64 pinned host memory: tokens, then positions
  torch::Tensor inputs;     // (2, b) int64 on the device, static input of the graph
  torch::Tensor logits;     // (b, 1, V), static output
#ifdef GWO_WITH_CUDA_GRAPHS
  at::cuda::CUDAGraph graph;
#endif
};

#ifdef GWO_WITH_CUDA_GRAPHS

bool DecodeGraphs::Available() { return true; }

DecodeGraphs::DecodeGraphs(models::CausalLm& model, models::KvCache& cache)
    : model_(model), cache_(cache) {
  // All buckets now, while the cache holds nothing: the warm-up runs write to it.
  for (int64_t b = 1;; b = std::min<int64_t>(2 * b, cache_.rows())) {
    Capture(b);
    if (b == cache_.rows()) break;
  }
}

DecodeGraphs::~DecodeGraphs() = default;

DecodeGraphs::Bucket& DecodeGraphs::BucketFor(int64_t n) {
  TORCH_CHECK(n >= 1 && n <= cache_.rows(), "decode step of ", n, " rows; the cache has ",
              cache_.rows());
  return *buckets_.lower_bound(n)->second;
}

void DecodeGraphs::Capture(int64_t b) {
  c10::InferenceMode inference;
  auto bucket = std::make_unique<Bucket>();
  const int64_t S = cache_.max_len();
  const int64_t n_kv = cache_.k[0].size(1);
  const auto dev = cache_.k[0].device();
  const auto i64 = torch::TensorOptions().dtype(torch::kLong);
  bucket->rows = b;
  bucket->staging = torch::zeros({2, b}, i64).pin_memory();
  bucket->inputs = torch::zeros({2, b}, i64.device(dev));
  const torch::Tensor idx = bucket->inputs[0].view({b, 1});        // (b, 1)
  const torch::Tensor positions = bucket->inputs[1].view({b, 1});  // (b, 1)
  // Everything derived from the inputs (mask, cache slots) is computed inside the
  // graph, so a step uploads only the (2, b) inputs.
  auto forward = [&] {
    const models::CacheStep step{.cache = &cache_,
                                 .row0 = 0,
                                 .positions = positions,
                                 .mask = models::CacheMask(positions, S, /*window=*/0),
                                 .kv_len = S,
                                 .slots = models::CacheSlots(positions, 0, n_kv, S)};
    return models::ForwardCached(model_, idx, step);
  };
  // Capture on a side stream after warm-up runs (cuBLAS handles, allocator pools),
  // as CUDA graph capture requires.
  c10::cuda::CUDAStream stream = c10::cuda::getStreamFromPool();
  stream.synchronize();
  c10::cuda::getCurrentCUDAStream().synchronize();
  {
    c10::cuda::CUDAStreamGuard guard(stream);
    for (int i = 0; i < 2; ++i) forward();
    stream.synchronize();
    bucket->graph.capture_begin();
    bucket->logits = forward();
    bucket->graph.capture_end();
  }
  stream.synchronize();
  buckets_[b] = std::move(bucket);
}

torch::Tensor DecodeGraphs::Step(const std::vector<int64_t>& tokens,
                                 const std::vector<int64_t>& positions) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  Bucket& b = BucketFor(n);
  // Inputs for the padded rows: token 0 at position 0 of their own (free) cache rows.
  int64_t* host = b.staging.data_ptr<int64_t>();
  std::fill(host, host + 2 * b.rows, 0);
  std::copy(tokens.begin(), tokens.end(), host);
  std::copy(positions.begin(), positions.end(), host + b.rows);
  // Stream-ordered before the replay; the staging buffer is reused only after the
  // step's logits were read back (the engine syncs every step).
  b.inputs.copy_(b.staging, /*non_blocking=*/true);
  b.graph.replay();
  return b.logits.narrow(0, 0, n).select(1, 0);  // (N, V)
}

#else  // no CUDA graphs in this build

bool DecodeGraphs::Available() { return false; }
DecodeGraphs::DecodeGraphs(models::CausalLm& model, models::KvCache& cache)
    : model_(model), cache_(cache) {}
DecodeGraphs::~DecodeGraphs() = default;
DecodeGraphs::Bucket& DecodeGraphs::BucketFor(int64_t) {
  TORCH_CHECK(false, "CUDA graphs are not available in this build");
}
void DecodeGraphs::Capture(int64_t) {}
torch::Tensor DecodeGraphs::Step(const std::vector<int64_t>&, const std::vector<int64_t>&) {
  TORCH_CHECK(false, "CUDA graphs are not available in this build");
}

#endif

}  // namespace gwo::generate
