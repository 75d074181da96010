// Decode attention of the fused GPT-2 step (fused_gpt2.cu): one query per row and head
// against the valid positions of its key/value cache row, in blocks of 64 keys whose
// partial softmax the last block of the head combines.
#ifndef GWO_WORKER_GENERATE_FUSED_ATTENTION_CUH_
#define GWO_WORKER_GENERATE_FUSED_ATTENTION_CUH_

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cfloat>
#include <cstdint>

#include "worker/generate/fused_ops.cuh"

namespace gwo::generate::fused::detail {

constexpr int kAttnKeys = 64;  // keys per attention block
constexpr int kAttnThreads = 128;
constexpr int kPart = kHd + 2;  // a split's (max, sum, out[64])

// Attention of row blockIdx.z, head blockIdx.y, keys [64 * blockIdx.x, + 64) of 0..pos:
// a warp takes 16 keys, 4 at a time, 8 lanes a key (8 dims each). With several blocks
// of keys, each block leaves (max, sum, unnormalised output) in part and the last one
// of the head combines them.
__global__ void __launch_bounds__(kAttnThreads) AttentionKernel(
    const bf16* __restrict__ qkv, const bf16* __restrict__ k_cache,
    const bf16* __restrict__ v_cache, const int32_t* __restrict__ pos, int C, int n_head,
    int max_len, int splits, float* __restrict__ part, int32_t* __restrict__ count,
    bf16* __restrict__ y) {
  WaitPrior();
  AllowNext();
  constexpr int kWarpsA = kAttnThreads / 32;
  __shared__ float wmax[kWarpsA], wsum[kWarpsA], wout[kWarpsA][kHd];
  __shared__ float block_max;
  __shared__ bool last;
  const int s = blockIdx.x, h = blockIdx.y, r = blockIdx.z;
  const int L = min(pos[r], max_len - 1) + 1;
  const int used = (L + kAttnKeys - 1) / kAttnKeys;
  if (s >= used) return;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, kg = lane / 8, sub = lane % 8;
  float q[8];
  Unpack(Load16(qkv + static_cast<int64_t>(r) * 3 * C + h * kHd + sub * 8), q);
#pragma unroll
  for (int i = 0; i < 8; ++i) q[i] *= 0.125f;  // 1 / sqrt(64)
  const int64_t base = (static_cast<int64_t>(r) * n_head + h) * max_len * kHd + sub * 8;
  uint4 kv[4], vv[4];
  int key[4];
#pragma unroll
  for (int it = 0; it < 4; ++it) {
    key[it] = s * kAttnKeys + warp * 16 + it * 4 + kg;
    if (key[it] < L) {
      kv[it] = Load16(k_cache + base + static_cast<int64_t>(key[it]) * kHd);
      vv[it] = Load16(v_cache + base + static_cast<int64_t>(key[it]) * kHd);
    }
  }
  float sc[4], m = -FLT_MAX;
#pragma unroll
  for (int it = 0; it < 4; ++it) {
    float kf[8], dot = 0;
    if (key[it] < L) Unpack(kv[it], kf);
#pragma unroll
    for (int i = 0; i < 8; ++i) dot = key[it] < L ? fmaf(q[i], kf[i], dot) : 0.f;
    dot += __shfl_xor_sync(0xffffffffu, dot, 1);
    dot += __shfl_xor_sync(0xffffffffu, dot, 2);
    dot += __shfl_xor_sync(0xffffffffu, dot, 4);
    sc[it] = dot;
    if (key[it] < L) m = fmaxf(m, dot);
  }
  m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 8));
  m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 16));
  if (lane == 0) wmax[warp] = m;
  __syncthreads();
  if (threadIdx.x == 0) {
    float bm = wmax[0];
    for (int w = 1; w < kWarpsA; ++w) bm = fmaxf(bm, wmax[w]);
    block_max = bm;
  }
  __syncthreads();
  const float M = block_max;
  float l = 0, o[8] = {0, 0, 0, 0, 0, 0, 0, 0};
#pragma unroll
  for (int it = 0; it < 4; ++it) {
    if (key[it] < L) {
      const float p = __expf(sc[it] - M);
      float vf[8];
      Unpack(vv[it], vf);
      l += p;
#pragma unroll
      for (int i = 0; i < 8; ++i) o[i] = fmaf(p, vf[i], o[i]);
    }
  }
  // Over the warp's four keys at a time (lanes 8 apart hold the same dims).
  l += __shfl_xor_sync(0xffffffffu, l, 8);
  l += __shfl_xor_sync(0xffffffffu, l, 16);
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    o[i] += __shfl_xor_sync(0xffffffffu, o[i], 8);
    o[i] += __shfl_xor_sync(0xffffffffu, o[i], 16);
  }
  if (kg == 0) {
#pragma unroll
    for (int i = 0; i < 8; ++i) wout[warp][sub * 8 + i] = o[i];
  }
  if (lane == 0) wsum[warp] = l;
  __syncthreads();
  const int t = threadIdx.x;
  float out = 0, sum = 0;
  if (t < kHd) {
    for (int w = 0; w < kWarpsA; ++w) {
      out += wout[w][t];
      sum += wsum[w];
    }
  }
  bf16* yr = y + static_cast<int64_t>(r) * C + h * kHd;
  if (used == 1) {
    if (t < kHd) yr[t] = __float2bfloat16(out / sum);
    return;
  }
  const int64_t head = static_cast<int64_t>(r) * n_head + h;
  float* mine = part + (head * splits + s) * kPart;
  if (t < kHd) mine[2 + t] = out;
  if (t == 0) {
    mine[0] = M;
    mine[1] = sum;
  }
  __threadfence();
  __syncthreads();
  if (t == 0) last = atomicAdd(&count[head], 1) == used - 1;
  __syncthreads();
  if (!last) return;
  if (t < kHd) {
    const float* all = part + head * splits * kPart;
    float gm = -FLT_MAX;
    for (int i = 0; i < used; ++i) gm = fmaxf(gm, __ldcg(all + i * kPart));
    float num = 0, den = 0;
    for (int i = 0; i < used; ++i) {
      const float f = __expf(__ldcg(all + i * kPart) - gm);
      num += f * __ldcg(all + i * kPart + 2 + t);
      den += f * __ldcg(all + i * kPart + 1);
    }
    yr[t] = __float2bfloat16(num / den);
  }
  if (t == 0) count[head] = 0;
}

}  // namespace gwo::generate::fused::detail

#endif  // GWO_WORKER_GENERATE_FUSED_ATTENTION_CUH_
