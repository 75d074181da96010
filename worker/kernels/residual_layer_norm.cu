// Residual add + LayerNorm (or RMSNorm) forward and backward (see residual_layer_norm.h). Forward:
// one block per row, the row in registers, two block reductions (mean, then the
// centred variance). Backward: one block per kResidualLayerNormRowsPerBlock rows, the
// gamma/beta gradients accumulated in registers across them and written as per-block
// partial sums. PyTorch equivalent:
//   s = x + delta.float(); y = F.layer_norm(s, (C,), gamma, beta, eps).to(T)
//   RMSNorm: y = (gamma * s * torch.rsqrt(s.pow(2).mean(-1, keepdim=True) + eps)).to(T)
#include <cuda_runtime.h>

#include <cstdint>

#include "worker/kernels/residual_layer_norm.h"
#include "worker/kernels/row_softmax.cuh"  // ToFloat, FromFloat

namespace gwo::kernels {
namespace {

constexpr int kLnThreads = 256;

// The sum of v over the block, returned to every thread.
__device__ __forceinline__ float BlockSum(float v) {
  __shared__ float warp_sums[kLnThreads / 32];
  __shared__ float total;
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < kLnThreads / 32 ? warp_sums[lane] : 0.0f;
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
    if (lane == 0) total = v;
  }
  __syncthreads();
  return total;
}

// kPer: elements per thread (C <= kPer * kLnThreads); element i of a thread is column
// threadIdx.x + i * kLnThreads.
template <typename T, int kPer, bool kRms>
__global__ void __launch_bounds__(kLnThreads)
    ForwardKernel(const float* __restrict__ x, const T* __restrict__ delta, const float* __restrict__ gamma,
                  const float* __restrict__ beta, int64_t C, float eps, float* __restrict__ s,
                  T* __restrict__ y, float* __restrict__ mean_out, float* __restrict__ rstd_out) {
  const int64_t base = static_cast<int64_t>(blockIdx.x) * C;
  float v[kPer];
  float sum = 0.0f;
#pragma unroll
  for (int i = 0; i < kPer; ++i) {
    const int64_t j = threadIdx.x + i * kLnThreads;
    v[i] = 0.0f;
    if (j < C) {
      v[i] = x[base + j] + ToFloat(delta[base + j]);
      s[base + j] = v[i];
      sum += v[i];
    }
  }
  // RMSNorm: no centring (and no bias).
  const float mean = kRms ? 0.0f : BlockSum(sum) / static_cast<float>(C);
  float squares = 0.0f;
#pragma unroll
  for (int i = 0; i < kPer; ++i) {
    const int64_t j = threadIdx.x + i * kLnThreads;
    if (j < C) squares += (v[i] - mean) * (v[i] - mean);
  }
  const float rstd = rsqrtf(BlockSum(squares) / static_cast<float>(C) + eps);
#pragma unroll
  for (int i = 0; i < kPer; ++i) {
    const int64_t j = threadIdx.x + i * kLnThreads;
    if (j < C) y[base + j] = FromFloat<T>((v[i] - mean) * rstd * gamma[j] + (kRms ? 0.0f : beta[j]));
  }
  if (threadIdx.x == 0) {
    mean_out[blockIdx.x] = mean;
    rstd_out[blockIdx.x] = rstd;
  }
}

template <typename T, int kPer, bool kRms>
__global__ void __launch_bounds__(kLnThreads)
    BackwardKernel(const T* __restrict__ dy, const float* __restrict__ ds_in, const float* __restrict__ s,
                   const float* __restrict__ mean, const float* __restrict__ rstd,
                   const float* __restrict__ gamma, int64_t N, int64_t C, float* __restrict__ ds,
                   T* __restrict__ ddelta, float* __restrict__ gamma_partial, float* __restrict__ beta_partial) {
  float dgamma[kPer], dbeta[kPer], g[kPer], xhat[kPer];
#pragma unroll
  for (int i = 0; i < kPer; ++i) dgamma[i] = dbeta[i] = 0.0f;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * kResidualLayerNormRowsPerBlock;
  const int64_t last = first + kResidualLayerNormRowsPerBlock < N ? first + kResidualLayerNormRowsPerBlock : N;
  for (int64_t row = first; row < last; ++row) {
    const int64_t base = row * C;
    const float m = mean[row], r = rstd[row];
    float sum_g = 0.0f, sum_gx = 0.0f;
#pragma unroll
    for (int i = 0; i < kPer; ++i) {
      const int64_t j = threadIdx.x + i * kLnThreads;
      g[i] = xhat[i] = 0.0f;
      if (j < C) {
        const float d = ToFloat(dy[base + j]);
        xhat[i] = (s[base + j] - m) * r;
        g[i] = d * gamma[j];
        dgamma[i] += d * xhat[i];
        dbeta[i] += d;
        sum_g += g[i];
        sum_gx += g[i] * xhat[i];
      }
    }
    const float mean_g = kRms ? 0.0f : BlockSum(sum_g) / static_cast<float>(C);
    const float mean_gx = BlockSum(sum_gx) / static_cast<float>(C);
#pragma unroll
    for (int i = 0; i < kPer; ++i) {
      const int64_t j = threadIdx.x + i * kLnThreads;
      if (j < C) {
        float v = r * (g[i] - mean_g - xhat[i] * mean_gx);
        if (ds_in != nullptr) v += ds_in[base + j];
        ds[base + j] = v;
        ddelta[base + j] = FromFloat<T>(v);
      }
    }
  }
#pragma unroll
  for (int i = 0; i < kPer; ++i) {
    const int64_t j = threadIdx.x + i * kLnThreads;
    if (j < C) {
      gamma_partial[blockIdx.x * C + j] = dgamma[i];
      if (!kRms) beta_partial[blockIdx.x * C + j] = dbeta[i];
    }
  }
}

// Calls f.template operator()<kPer>() with the smallest kPer in {4, 8, 16, 32} whose
// rows fit C; cudaErrorInvalidValue when none does.
template <typename F>
int WithPerThread(int64_t C, F&& f) {
  if (C <= 4 * kLnThreads) return f.template operator()<4>();
  if (C <= 8 * kLnThreads) return f.template operator()<8>();
  if (C <= 16 * kLnThreads) return f.template operator()<16>();
  if (C <= 32 * kLnThreads) return f.template operator()<32>();
  return cudaErrorInvalidValue;
}

template <typename T>
int Forward(const float* x, const void* delta, const float* gamma, const float* beta, bool rms, int64_t N,
            int64_t C, float eps, float* s, void* y, float* mean, float* rstd, cudaStream_t stream) {
  if (N == 0) return cudaSuccess;
  return WithPerThread(C, [&]<int kPer>() {
    auto kernel = rms ? ForwardKernel<T, kPer, true> : ForwardKernel<T, kPer, false>;
    kernel<<<N, kLnThreads, 0, stream>>>(x, static_cast<const T*>(delta), gamma, beta, C, eps, s,
                                         static_cast<T*>(y), mean, rstd);
    return static_cast<int>(cudaGetLastError());
  });
}

template <typename T>
int Backward(const void* dy, const float* ds_in, const float* s, const float* mean, const float* rstd,
             const float* gamma, bool rms, int64_t N, int64_t C, float* ds, void* ddelta, float* gamma_partial,
             float* beta_partial, cudaStream_t stream) {
  if (N == 0) return cudaSuccess;
  const int64_t blocks = (N + kResidualLayerNormRowsPerBlock - 1) / kResidualLayerNormRowsPerBlock;
  return WithPerThread(C, [&]<int kPer>() {
    auto kernel = rms ? BackwardKernel<T, kPer, true> : BackwardKernel<T, kPer, false>;
    kernel<<<blocks, kLnThreads, 0, stream>>>(static_cast<const T*>(dy), ds_in, s, mean, rstd, gamma, N, C, ds,
                                              static_cast<T*>(ddelta), gamma_partial, beta_partial);
    return static_cast<int>(cudaGetLastError());
  });
}

}  // namespace

int ResidualLayerNormForward(const float* x, const void* delta, const float* gamma, const float* beta,
                             LogitType type, int64_t N, int64_t C, float eps, float* s, void* y,
                             float* mean, float* rstd, void* stream) {
  cudaStream_t st = static_cast<cudaStream_t>(stream);
  const bool rms = beta == nullptr;
  switch (type) {
    case LogitType::kFloat32: return Forward<float>(x, delta, gamma, beta, rms, N, C, eps, s, y, mean, rstd, st);
    case LogitType::kBFloat16:
      return Forward<__nv_bfloat16>(x, delta, gamma, beta, rms, N, C, eps, s, y, mean, rstd, st);
    case LogitType::kFloat16: return Forward<__half>(x, delta, gamma, beta, rms, N, C, eps, s, y, mean, rstd, st);
  }
  return cudaErrorInvalidValue;
}

int ResidualLayerNormBackward(const void* dy, const float* ds_in, const float* s, const float* mean,
                              const float* rstd, const float* gamma, LogitType type, int64_t N, int64_t C,
                              float* ds, void* ddelta, float* gamma_partial, float* beta_partial,
                              void* stream) {
  cudaStream_t st = static_cast<cudaStream_t>(stream);
  const bool rms = beta_partial == nullptr;
  switch (type) {
    case LogitType::kFloat32:
      return Backward<float>(dy, ds_in, s, mean, rstd, gamma, rms, N, C, ds, ddelta, gamma_partial, beta_partial,
                             st);
    case LogitType::kBFloat16:
      return Backward<__nv_bfloat16>(dy, ds_in, s, mean, rstd, gamma, rms, N, C, ds, ddelta, gamma_partial,
                                     beta_partial, st);
    case LogitType::kFloat16:
      return Backward<__half>(dy, ds_in, s, mean, rstd, gamma, rms, N, C, ds, ddelta, gamma_partial, beta_partial,
                              st);
  }
  return cudaErrorInvalidValue;
}

}  // namespace gwo::kernels
