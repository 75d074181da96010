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
  torch::Tensor idx;        // (b, 1) int64, static input
  torch::Tensor positions;  // (b, 1) int64, static input
  torch::Tensor mask;       // (b, 1, 1, S) bool, static input
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
  const auto dev = cache_.k[0].device();
  const auto i64 = torch::TensorOptions().dtype(torch::kLong).device(dev);
  bucket->rows = b;
  bucket->idx = torch::zeros({b, 1}, i64);
  bucket->positions = torch::zeros({b, 1}, i64);
  bucket->mask = torch::zeros({b, 1, 1, S}, i64.dtype(torch::kBool));
  bucket->mask.select(3, 0).fill_(true);
  models::CacheStep step{.cache = &cache_,
                         .row0 = 0,
                         .positions = bucket->positions,
                         .mask = bucket->mask,
                         .kv_len = S};
  // Capture on a side stream after warm-up runs (cuBLAS handles, allocator pools),
  // as CUDA graph capture requires.
  c10::cuda::CUDAStream stream = c10::cuda::getStreamFromPool();
  stream.synchronize();
  c10::cuda::getCurrentCUDAStream().synchronize();
  {
    c10::cuda::CUDAStreamGuard guard(stream);
    for (int i = 0; i < 2; ++i) models::ForwardCached(model_, bucket->idx, step);
    stream.synchronize();
    bucket->graph.capture_begin();
    bucket->logits = models::ForwardCached(model_, bucket->idx, step);
    bucket->graph.capture_end();
  }
  stream.synchronize();
  buckets_[b] = std::move(bucket);
}

torch::Tensor DecodeGraphs::Step(const std::vector<int64_t>& tokens,
                                 const std::vector<int64_t>& positions) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  Bucket& b = BucketFor(n);
  const int64_t S = cache_.max_len();
  // Inputs for the padded rows: token 0 at position 0 of their own (free) cache rows.
  std::vector<int64_t> idx(b.rows, 0), pos(b.rows, 0);
  std::copy(tokens.begin(), tokens.end(), idx.begin());
  std::copy(positions.begin(), positions.end(), pos.begin());
  const torch::Tensor p = torch::tensor(pos).view({b.rows, 1});                         // (b, 1)
  const torch::Tensor keys = torch::arange(S, torch::kLong).view({1, 1, 1, S});          // (1,1,1,S)
  b.idx.copy_(torch::tensor(idx).view({b.rows, 1}), /*non_blocking=*/false);
  b.positions.copy_(p);
  b.mask.copy_(keys <= p.view({b.rows, 1, 1, 1}));
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
