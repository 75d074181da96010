// Device helpers of the fused GPT-2 decode kernels (fused_gpt2.cu): bf16 unpacking and
// rounding, warp sums, programmatic dependent launch, L2 prefetch, and the LayerNorm of
// a few rows, a warp each. Included by fused_gpt2.cu only (one translation unit).
#ifndef GWO_WORKER_GENERATE_FUSED_OPS_CUH_
#define GWO_WORKER_GENERATE_FUSED_OPS_CUH_

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace gwo::generate::fused::detail {

using bf16 = __nv_bfloat16;

constexpr int kWarps = 8;  // warps per projection block
constexpr int kThreads = kWarps * 32;
constexpr int kHd = 64;    // head dim the attention kernel handles
constexpr int kUnroll = 4;     // 16-byte loads in flight per lane, warp-per-row path
constexpr int kMmaUnroll = 3;  // 32-wide K chunks in flight per warp, tensor-core path
constexpr int kMaxC = 1024;

__device__ __forceinline__ float Round(float v) { return __bfloat162float(__float2bfloat16(v)); }

__device__ __forceinline__ void Unpack(const uint4& u, float f[8]) {
  const __nv_bfloat162* p = reinterpret_cast<const __nv_bfloat162*>(&u);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 t = __bfloat1622float2(p[i]);
    f[2 * i] = t.x;
    f[2 * i + 1] = t.y;
  }
}

__device__ __forceinline__ uint4 Load16(const bf16* p) { return __ldg(reinterpret_cast<const uint4*>(p)); }

__device__ __forceinline__ float WarpSum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Programmatic dependent launch (sm_90; no-ops when launched without it): wait for the
// grid this one depends on to complete, and let the next one start launching.
__device__ __forceinline__ void WaitPrior() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}
__device__ __forceinline__ void AllowNext() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" :::);
#endif
}
__device__ __forceinline__ void PrefetchL2(const void* p) {
  asm volatile("prefetch.global.L2 [%0];" ::"l"(p));
}

// Prefetches rows [r0, r0 + n) of the (N, K) matrix W into L2, a 128-byte line per thread.
__device__ __forceinline__ void PrefetchRows(const bf16* W, int N, int K, int r0, int n) {
  const int lines = (K * 2 + 127) / 128;
  for (int i = threadIdx.x; i < n * lines; i += blockDim.x) {
    const int r = r0 + i / lines;
    if (r < N) PrefetchL2(W + static_cast<int64_t>(r) * K + (i % lines) * 64);
  }
}

// Rows b < B of x (B, C) through a bf16-rounded LayerNorm into out (B, stride) in
// shared memory (T: float or bf16), a warp per row; ends with __syncthreads.
template <int B, typename T>
__device__ void LayerNormRows(const bf16* __restrict__ x, const bf16* __restrict__ w,
                              const bf16* __restrict__ bias, int C, float eps, T* out, int stride) {
  constexpr int kChunks = kMaxC / 256;  // 8 values a lane, C <= 1024
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  for (int b = warp; b < B; b += kWarps) {
    float v[kChunks][8];
    float s = 0;
#pragma unroll
    for (int i = 0; i < kChunks; ++i) {
      const int c = (i * 32 + lane) * 8;
      if (c < C) {
        Unpack(*reinterpret_cast<const uint4*>(x + b * C + c), v[i]);
#pragma unroll
        for (int j = 0; j < 8; ++j) s += v[i][j];
      }
    }
    const float mean = WarpSum(s) / C;
    float q = 0;
#pragma unroll
    for (int i = 0; i < kChunks; ++i) {
      if ((i * 32 + lane) * 8 < C) {
#pragma unroll
        for (int j = 0; j < 8; ++j) q += (v[i][j] - mean) * (v[i][j] - mean);
      }
    }
    const float rstd = rsqrtf(WarpSum(q) / C + eps);
#pragma unroll
    for (int i = 0; i < kChunks; ++i) {
      const int c = (i * 32 + lane) * 8;
      if (c < C) {
        float wf[8], bf[8];
        Unpack(Load16(w + c), wf);
        Unpack(Load16(bias + c), bf);
#pragma unroll
        for (int j = 0; j < 8; ++j) {
          const float y = Round((v[i][j] - mean) * rstd * wf[j] + bf[j]);
          if constexpr (sizeof(T) == 4) {
            out[b * stride + c + j] = y;
          } else {
            out[b * stride + c + j] = __float2bfloat16(y);
          }
        }
      }
    }
  }
  __syncthreads();
}

__device__ __forceinline__ float GeluTanh(float v) {
  const float k = 0.7978845608028654f;  // sqrt(2 / pi)
  return 0.5f * v * (1.f + tanhf(k * (v + 0.044715f * v * v * v)));
}

}  // namespace gwo::generate::fused::detail

#endif  // GWO_WORKER_GENERATE_FUSED_OPS_CUH_
