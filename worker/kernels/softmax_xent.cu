// Fused softmax cross-entropy forward + backward over rows of logits, in place (see
// softmax_xent.h). One block per row: pass 1 reads the row once for an online
// (max, sum of exponentials), pass 2 reads it again (from L2: a 50k-vocabulary bf16
// row is 100 KB) and writes the gradient over it. PyTorch equivalent, per row:
//   lse = logits[:V].float().logsumexp(); loss = lse - logits[t]
//   logits[:V] = (softmax(logits[:V].float()) - one_hot(t)) * inv_count; logits[V:] = 0
#include <cuda_runtime.h>

#include <cstdint>

#include "worker/kernels/row_softmax.cuh"
#include "worker/kernels/softmax_xent.h"

namespace gwo::kernels {
namespace {

// kVec elements of T per 16-byte access when the row allows it (kVec = 1: scalar).
template <typename T, int kVec>
__global__ void __launch_bounds__(kThreads)
    SoftmaxXentKernel(T* __restrict__ logits, int64_t V, int64_t ld, const int64_t* __restrict__ targets,
                      const float* __restrict__ inv_count, float* __restrict__ row_loss) {
  struct alignas(sizeof(T) * kVec) Pack {
    T v[kVec];
  };
  const int64_t row = blockIdx.x;
  T* x = logits + row * ld;
  const int64_t target = targets[row];
  __shared__ float target_logit;
  if (threadIdx.x == 0) target_logit = (target >= 0 && target < V) ? ToFloat(x[target]) : 0.0f;

  // Pass 1: online max and sum over the vocabulary columns.
  MaxSum acc{-INFINITY, 0.0f};
  const int64_t full = V / kVec;  // packs entirely inside the vocabulary
  for (int64_t p = threadIdx.x; p < full; p += kThreads) {
    const Pack pack = reinterpret_cast<const Pack*>(x)[p];
    float local_max = -INFINITY;
#pragma unroll
    for (int i = 0; i < kVec; ++i) local_max = fmaxf(local_max, ToFloat(pack.v[i]));
    float local_sum = 0.0f;
#pragma unroll
    for (int i = 0; i < kVec; ++i) local_sum += expf(ToFloat(pack.v[i]) - local_max);
    acc = Combine(acc, MaxSum{local_max, local_sum});
  }
  for (int64_t j = full * kVec + threadIdx.x; j < V; j += kThreads) acc = Add(acc, ToFloat(x[j]));
  const MaxSum total = BlockCombine(acc);  // also orders target_logit's write before its reads
  const float lse = total.m + logf(total.s);
  const bool counted = target >= 0 && target < V;
  if (threadIdx.x == 0) row_loss[row] = counted ? lse - target_logit : 0.0f;
  const float scale = counted ? inv_count[0] : 0.0f;

  // Pass 2: the gradient over the logits; padding columns and ignored rows get 0.
  const int64_t packs = ld / kVec;
  for (int64_t p = threadIdx.x; p < packs; p += kThreads) {
    Pack pack = reinterpret_cast<Pack*>(x)[p];
#pragma unroll
    for (int i = 0; i < kVec; ++i) {
      const int64_t j = p * kVec + i;
      float g = 0.0f;
      if (j < V) g = (expf(ToFloat(pack.v[i]) - lse) - (j == target ? 1.0f : 0.0f)) * scale;
      pack.v[i] = FromFloat<T>(g);
    }
    reinterpret_cast<Pack*>(x)[p] = pack;
  }
  for (int64_t j = packs * kVec + threadIdx.x; j < ld; j += kThreads) {
    float g = 0.0f;
    if (j < V) g = (expf(ToFloat(x[j]) - lse) - (j == target ? 1.0f : 0.0f)) * scale;
    x[j] = FromFloat<T>(g);
  }
}

template <typename T>
int Launch(void* logits, int64_t rows, int64_t V, int64_t ld, const int64_t* targets,
           const float* inv_count, float* row_loss, cudaStream_t stream) {
  if (rows == 0) return cudaSuccess;
  constexpr int kVec = 16 / sizeof(T);
  const bool aligned = reinterpret_cast<uintptr_t>(logits) % 16 == 0 && (ld * sizeof(T)) % 16 == 0;
  if (aligned) {
    SoftmaxXentKernel<T, kVec><<<rows, kThreads, 0, stream>>>(static_cast<T*>(logits), V, ld, targets,
                                                               inv_count, row_loss);
  } else {
    SoftmaxXentKernel<T, 1><<<rows, kThreads, 0, stream>>>(static_cast<T*>(logits), V, ld, targets,
                                                           inv_count, row_loss);
  }
  return cudaGetLastError();
}

}  // namespace

int SoftmaxXentGradInPlace(void* logits, LogitType type, int64_t rows, int64_t V, int64_t ld,
                           const int64_t* targets, const float* inv_count, float* row_loss,
                           void* stream) {
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  switch (type) {
    case LogitType::kFloat32:
      return Launch<float>(logits, rows, V, ld, targets, inv_count, row_loss, s);
    case LogitType::kBFloat16:
      return Launch<__nv_bfloat16>(logits, rows, V, ld, targets, inv_count, row_loss, s);
    case LogitType::kFloat16:
      return Launch<__half>(logits, rows, V, ld, targets, inv_count, row_loss, s);
  }
  return cudaErrorInvalidValue;
}

}  // namespace gwo::kernels
