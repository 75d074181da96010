// Device helpers of the row-softmax kernels (softmax_xent.cu, distill_xent.cu): one
// block of kThreads per row, float32 arithmetic over bf16/fp16/fp32 storage, and the
// online (max, sum of exponentials) with its block-wide combination.
#ifndef GWO_WORKER_KERNELS_ROW_SOFTMAX_CUH_
#define GWO_WORKER_KERNELS_ROW_SOFTMAX_CUH_

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>
#include <cstdint>

namespace gwo::kernels {
namespace {

constexpr int kThreads = 512;

__device__ __forceinline__ float ToFloat(float x) { return x; }
__device__ __forceinline__ float ToFloat(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ __forceinline__ float ToFloat(__half x) { return __half2float(x); }
template <typename T> __device__ __forceinline__ T FromFloat(float x);
template <> __device__ __forceinline__ float FromFloat<float>(float x) { return x; }
template <> __device__ __forceinline__ __nv_bfloat16 FromFloat<__nv_bfloat16>(float x) {
  return __float2bfloat16(x);
}
template <> __device__ __forceinline__ __half FromFloat<__half>(float x) { return __float2half(x); }

// A running (max, sum of exp(x - max)); the empty state is (-inf, 0).
struct MaxSum {
  float m;
  float s;
};

__device__ __forceinline__ MaxSum Combine(MaxSum a, MaxSum b) {
  if (a.m == -INFINITY) return b;
  if (b.m == -INFINITY) return a;
  const float m = fmaxf(a.m, b.m);
  return {m, a.s * expf(a.m - m) + b.s * expf(b.m - m)};
}

__device__ __forceinline__ MaxSum Add(MaxSum a, float x) { return Combine(a, MaxSum{x, 1.0f}); }

// The (max, sum) of the whole block, returned to every thread.
__device__ __forceinline__ MaxSum BlockCombine(MaxSum v) {
  __shared__ MaxSum warp_results[kThreads / 32];
  __shared__ MaxSum result;
  for (int offset = 16; offset > 0; offset >>= 1) {
    MaxSum other{__shfl_xor_sync(0xffffffffu, v.m, offset), __shfl_xor_sync(0xffffffffu, v.s, offset)};
    v = Combine(v, other);
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) warp_results[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < kThreads / 32 ? warp_results[lane] : MaxSum{-INFINITY, 0.0f};
    for (int offset = 16; offset > 0; offset >>= 1) {
      MaxSum other{__shfl_xor_sync(0xffffffffu, v.m, offset), __shfl_xor_sync(0xffffffffu, v.s, offset)};
      v = Combine(v, other);
    }
    if (lane == 0) result = v;
  }
  __syncthreads();
  return result;
}

}  // namespace
}  // namespace gwo::kernels

#endif  // GWO_WORKER_KERNELS_ROW_SOFTMAX_CUH_
