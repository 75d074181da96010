// Distillation cross-entropy and KL over rows of logits (see distill_xent.h). One block
// per row; pass 1 reads the student and teacher rows once for three online softmax
// normalisers (student at 1 and at tau, teacher at tau) and the teacher-weighted sum of
// (t - s) that the KL needs; pass 2 reads them again and writes both gradients.
// PyTorch equivalent, per row (float32):
//   ce = s.logsumexp(-1) - s[target]
//   kl = tau**2 * (F.softmax(t/tau, -1) * (F.log_softmax(t/tau, -1) - F.log_softmax(s/tau, -1))).sum(-1)
#include <cuda_runtime.h>

#include <cstdint>

#include "worker/kernels/distill_xent.h"
#include "worker/kernels/row_softmax.cuh"

namespace gwo::kernels {
namespace {

// A running (max, sum of exp(u - max), sum of exp(u - max) * w) for the teacher at tau:
// u = t / tau, w = t - s. Empty: (-inf, 0, 0).
struct MaxSumDot {
  float m, s, a;
};

__device__ __forceinline__ MaxSumDot Combine3(MaxSumDot x, MaxSumDot y) {
  if (x.m == -INFINITY) return y;
  if (y.m == -INFINITY) return x;
  const float m = fmaxf(x.m, y.m);
  const float ex = expf(x.m - m), ey = expf(y.m - m);
  return {m, x.s * ex + y.s * ey, x.a * ex + y.a * ey};
}

__device__ MaxSumDot BlockCombine3(MaxSumDot v) {
  __shared__ MaxSumDot warp_results[kThreads / 32];
  __shared__ MaxSumDot result;
  auto shuffle = [](MaxSumDot x, int offset) {
    return MaxSumDot{__shfl_xor_sync(0xffffffffu, x.m, offset), __shfl_xor_sync(0xffffffffu, x.s, offset),
                     __shfl_xor_sync(0xffffffffu, x.a, offset)};
  };
  for (int offset = 16; offset > 0; offset >>= 1) v = Combine3(v, shuffle(v, offset));
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) warp_results[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < kThreads / 32 ? warp_results[lane] : MaxSumDot{-INFINITY, 0.0f, 0.0f};
    for (int offset = 16; offset > 0; offset >>= 1) v = Combine3(v, shuffle(v, offset));
    if (lane == 0) result = v;
  }
  __syncthreads();
  return result;
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    DistillXentKernel(T* __restrict__ student, const T* __restrict__ teacher, T* __restrict__ grad_kl,
                      int64_t V, int64_t ld, int64_t ld_teacher, const int64_t* __restrict__ targets,
                      const float* __restrict__ inv_count, float inv_rows, float tau,
                      float* __restrict__ row_ce, float* __restrict__ row_kl) {
  const int64_t row = blockIdx.x;
  T* s_row = student + row * ld;
  const T* t_row = teacher + row * ld_teacher;
  T* g_row = grad_kl + row * ld;
  const int64_t target = targets[row];
  const bool counted = target >= 0 && target < V;
  const float inv_tau = 1.0f / tau;
  __shared__ float target_logit;
  if (threadIdx.x == 0) target_logit = counted ? ToFloat(s_row[target]) : 0.0f;

  MaxSum acc_s{-INFINITY, 0.0f}, acc_st{-INFINITY, 0.0f};
  MaxSumDot acc_t{-INFINITY, 0.0f, 0.0f};
  for (int64_t j = threadIdx.x; j < V; j += kThreads) {
    const float s = ToFloat(s_row[j]), t = ToFloat(t_row[j]);
    acc_s = Add(acc_s, s);
    acc_st = Add(acc_st, s * inv_tau);
    acc_t = Combine3(acc_t, MaxSumDot{t * inv_tau, 1.0f, t - s});
  }
  const MaxSum total_s = BlockCombine(acc_s);
  const MaxSum total_st = BlockCombine(acc_st);
  const MaxSumDot total_t = BlockCombine3(acc_t);
  const float lse_s = total_s.m + logf(total_s.s);
  const float lse_st = total_st.m + logf(total_st.s);
  const float lse_t = total_t.m + logf(total_t.s);
  if (threadIdx.x == 0) {
    row_ce[row] = counted ? lse_s - target_logit : 0.0f;
    // sum_j q_j (log q_j - log p_j) = sum_j q_j (t_j - s_j) / tau - lse_t + lse_st
    row_kl[row] = tau * tau * ((total_t.a / total_t.s) * inv_tau - lse_t + lse_st);
  }
  const float ce_scale = counted ? inv_count[0] : 0.0f;
  const float kl_scale = tau * inv_rows;
  for (int64_t j = threadIdx.x; j < ld; j += kThreads) {
    float g_ce = 0.0f, g_kl = 0.0f;
    if (j < V) {
      const float s = ToFloat(s_row[j]), t = ToFloat(t_row[j]);
      g_ce = (expf(s - lse_s) - (j == target ? 1.0f : 0.0f)) * ce_scale;
      g_kl = (expf(s * inv_tau - lse_st) - expf(t * inv_tau - lse_t)) * kl_scale;
    }
    s_row[j] = FromFloat<T>(g_ce);
    g_row[j] = FromFloat<T>(g_kl);
  }
}

template <typename T>
int Launch(void* student, const void* teacher, void* grad_kl, int64_t rows, int64_t V, int64_t ld,
           int64_t ld_teacher, const int64_t* targets, const float* inv_count, float inv_rows, float tau,
           float* row_ce, float* row_kl, cudaStream_t stream) {
  if (rows == 0) return cudaSuccess;
  DistillXentKernel<T><<<rows, kThreads, 0, stream>>>(static_cast<T*>(student), static_cast<const T*>(teacher),
                                                      static_cast<T*>(grad_kl), V, ld, ld_teacher, targets,
                                                      inv_count, inv_rows, tau, row_ce, row_kl);
  return cudaGetLastError();
}

}  // namespace

int DistillXentGradInPlace(void* student, const void* teacher, void* grad_kl, LogitType type,
                           int64_t rows, int64_t V, int64_t ld, int64_t ld_teacher,
                           const int64_t* targets, const float* inv_count, float inv_rows,
                           float temperature, float* row_ce, float* row_kl, void* stream) {
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  switch (type) {
    case LogitType::kFloat32:
      return Launch<float>(student, teacher, grad_kl, rows, V, ld, ld_teacher, targets, inv_count, inv_rows,
                           temperature, row_ce, row_kl, s);
    case LogitType::kBFloat16:
      return Launch<__nv_bfloat16>(student, teacher, grad_kl, rows, V, ld, ld_teacher, targets, inv_count,
                                   inv_rows, temperature, row_ce, row_kl, s);
    case LogitType::kFloat16:
      return Launch<__half>(student, teacher, grad_kl, rows, V, ld, ld_teacher, targets, inv_count, inv_rows,
                            temperature, row_ce, row_kl, s);
  }
  return cudaErrorInvalidValue;
}

}  // namespace gwo::kernels
