// The projections of the fused GPT-2 decode step (fused_gpt2.cu): out = [LayerNorm](in)
// @ W^T through an epilogue (QKV into the cache, GELU, residual add, logits with the
// argmax). 1 and 2 rows: a warp per output row on CUDA cores; 4 to 32 rows: tensor
// cores, a block per 16 output rows with K split over its warps.
#ifndef GWO_WORKER_GENERATE_FUSED_PROJECTION_CUH_
#define GWO_WORKER_GENERATE_FUSED_PROJECTION_CUH_

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "worker/generate/fused_ops.cuh"

namespace gwo::generate::fused::detail {

// What a projection does with output row o of batch row b.
enum class Out { kQkv, kGelu, kResidual, kLogits };

struct Epilogue {
  int N = 0;
  const bf16* bias = nullptr;  // (N), or null
  bf16* out = nullptr;         // kQkv: qkv (B, 3C), q part; kGelu: (B, N); kResidual: x (B, N)
                               // updated in place; kLogits: (B, N)
  bf16* k_cache = nullptr;     // kQkv
  bf16* v_cache = nullptr;
  const int32_t* pos = nullptr;
  int C = 0, n_head = 0, max_len = 0;
  // kLogits: the argmax and the token fed back.
  unsigned long long* best = nullptr;
  uint32_t* done = nullptr;
  int32_t* tok = nullptr;
  int32_t* step_out = nullptr;
  int32_t* pos_rw = nullptr;
};

// Orders floats as unsigned integers; with the id's complement below it, the largest
// key is the largest logit and, among equal logits, the lowest id (like torch.argmax).
__device__ __forceinline__ unsigned long long ArgmaxKey(float v, int id) {
  const uint32_t u = __float_as_uint(v);
  const uint32_t ord = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
  return (static_cast<unsigned long long>(ord) << 32) | static_cast<uint32_t>(~static_cast<uint32_t>(id));
}

// Stores value v (the fp32 sum) of output row o, batch row b. kLogits returns its key.
template <Out E>
__device__ __forceinline__ unsigned long long Store(const Epilogue& e, int o, int b, float v) {
  if constexpr (E == Out::kQkv) {
    v = Round(v + __bfloat162float(e.bias[o]));
    const int C = e.C;
    if (o < C) {
      e.out[b * 3 * C + o] = __float2bfloat16(v);
    } else {
      const int oc = (o - C) % C, h = oc / kHd, d = oc % kHd;
      bf16* cache = o < 2 * C ? e.k_cache : e.v_cache;
      const int64_t slot = (static_cast<int64_t>(b) * e.n_head + h) * e.max_len + e.pos[b];
      cache[slot * kHd + d] = __float2bfloat16(v);
    }
  } else if constexpr (E == Out::kGelu) {
    v = Round(v + __bfloat162float(e.bias[o]));
    e.out[b * e.N + o] = __float2bfloat16(GeluTanh(v));
  } else if constexpr (E == Out::kResidual) {
    v = Round(v + __bfloat162float(e.bias[o]));
    e.out[b * e.N + o] = __float2bfloat16(__bfloat162float(e.out[b * e.N + o]) + v);
  } else {
    const bf16 r = __float2bfloat16(v);
    e.out[static_cast<int64_t>(b) * e.N + o] = r;
    return ArgmaxKey(__bfloat162float(r), o);
  }
  return 0;
}

// The LM head's argmax: the block's best keys (in shared memory) go to the global ones;
// the last block to finish turns them into the next tokens and resets the keys.
template <int B>
__device__ void FinishArgmax(const Epilogue& e, unsigned long long* block_best) {
  __shared__ bool last;
  __syncthreads();
  if (threadIdx.x < B) {
    atomicMax(&e.best[threadIdx.x], block_best[threadIdx.x]);
    __threadfence();
  }
  __syncthreads();
  if (threadIdx.x == 0) last = atomicAdd(e.done, 1u) == gridDim.x - 1;
  __syncthreads();
  if (!last) return;
  if (threadIdx.x < B) {
    const int b = threadIdx.x;
    const unsigned long long key = atomicExch(&e.best[b], 0ull);
    int id = static_cast<int>(~static_cast<uint32_t>(key & 0xffffffffu));
    if (id < 0 || id >= e.N) id = 0;
    e.tok[b] = id;
    if (e.step_out) e.step_out[b] = id;
    e.pos_rw[b] = min(e.pos_rw[b] + 1, e.max_len - 1);
  }
  if (threadIdx.x == 0) *e.done = 0;
}

// ---- 1 and 2 rows: a warp per output row ---------------------------------------------

// acc[b] = sum_k wrow[k] * in[b, k], summed over the warp (every lane gets it). `in`
// is fp32 in shared memory (Shared) or bf16 in global memory.
template <int B, bool Shared>
__device__ __forceinline__ void WarpDot(const bf16* __restrict__ wrow, const void* in, int K,
                                        float acc[B]) {
  const int lane = threadIdx.x % 32;
#pragma unroll
  for (int b = 0; b < B; ++b) acc[b] = 0;
  for (int k0 = lane * 8; k0 < K; k0 += 256 * kUnroll) {
    uint4 wv[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int k = k0 + u * 256;
      if (k < K) wv[u] = Load16(wrow + k);
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int k = k0 + u * 256;
      if (k >= K) break;
      float wf[8];
      Unpack(wv[u], wf);
#pragma unroll
      for (int b = 0; b < B; ++b) {
        float a[8];
        if constexpr (Shared) {
          const float* p = static_cast<const float*>(in) + b * K + k;
          const float4 a0 = *reinterpret_cast<const float4*>(p);
          const float4 a1 = *reinterpret_cast<const float4*>(p + 4);
          a[0] = a0.x; a[1] = a0.y; a[2] = a0.z; a[3] = a0.w;
          a[4] = a1.x; a[5] = a1.y; a[6] = a1.z; a[7] = a1.w;
        } else {
          Unpack(*reinterpret_cast<const uint4*>(static_cast<const bf16*>(in) + b * K + k), a);
        }
#pragma unroll
        for (int i = 0; i < 8; ++i) acc[b] = fmaf(wf[i], a[i], acc[b]);
      }
    }
  }
#pragma unroll
  for (int b = 0; b < B; ++b) acc[b] = WarpSum(acc[b]);
}

// out = [LN](in) @ W^T through epilogue E, output rows blockIdx.x * 8 + warp. With Ln,
// `in` is x (B, K) and LayerNorm(ln_w, ln_b) is applied first; otherwise `in` (B, K) is
// read as it is.
template <int B, Out E, bool Ln>
__global__ void __launch_bounds__(kThreads) RowGemvKernel(
    const bf16* __restrict__ in, const bf16* __restrict__ ln_w, const bf16* __restrict__ ln_b,
    float eps, const bf16* __restrict__ W, int K, Epilogue e) {
  extern __shared__ float xs[];  // (B, K) with Ln
  __shared__ unsigned long long block_best[B];
  const int o0 = blockIdx.x * kWarps;
  PrefetchRows(W, e.N, K, o0, kWarps);
  if constexpr (E == Out::kLogits) {
    if (threadIdx.x < B) block_best[threadIdx.x] = 0;
    __syncthreads();
  }
  WaitPrior();
  AllowNext();
  if constexpr (Ln) LayerNormRows<B, float>(in, ln_w, ln_b, K, eps, xs, K);
  const int o = o0 + threadIdx.x / 32, lane = threadIdx.x % 32;
  if (o < e.N) {
    float acc[B];
    WarpDot<B, Ln>(W + static_cast<int64_t>(o) * K, Ln ? static_cast<const void*>(xs) : in, K, acc);
    if (lane < B) {
      // Lane b stores row b's value (B <= 8 < 32).
      float v = 0;
#pragma unroll
      for (int b = 0; b < B; ++b) if (b == lane) v = acc[b];
      const unsigned long long key = Store<E>(e, o, lane, v);
      if constexpr (E == Out::kLogits) atomicMax(&block_best[lane], key);
    }
  }
  if constexpr (E == Out::kLogits) FinishArgmax<B>(e, block_best);
}

// ---- 4 to 32 rows: tensor cores ---------------------------------------------------

__device__ __forceinline__ void Mma(float d[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3,
                                    uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%0,%1,%2,%3};"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

// This warp's share of output rows [m0, m0 + 16) for batch rows [0, 8 * NT): the K
// chunks of 32 numbered warp, warp + 8, ... acc[j] is the m16n8 accumulator of batch
// tile j. act is (8 * NT, stride) bf16 (shared or global memory).
//
// A lane (g = lane / 4, t = lane % 4) loads 8 consecutive k, [t * 8, t * 8 + 8) of a
// chunk, of weight rows g and g + 8 and of batch rows g (+ 8j); the two mma of a chunk
// take k {0,1,2,3} and {4,5,6,7} of those. That permutes k identically in both
// operands, which leaves every dot product unchanged and keeps the loads 16 bytes wide.
template <int NT, bool SharedAct>
__device__ __forceinline__ void MmaRows(const bf16* __restrict__ W, int N, int K, int m0,
                                        const bf16* act, int stride, float acc[NT][4]) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
  const bf16* w0 = W + static_cast<int64_t>(min(m0 + g, N - 1)) * K + t * 8;
  const bf16* w1 = W + static_cast<int64_t>(min(m0 + g + 8, N - 1)) * K + t * 8;
  const bf16* a = act + g * stride + t * 8;
#pragma unroll
  for (int j = 0; j < NT; ++j) {
#pragma unroll
    for (int i = 0; i < 4; ++i) acc[j][i] = 0;
  }
  const int chunks = K / 32;
  for (int c = warp; c < chunks; c += kWarps * kMmaUnroll) {
    uint4 wa[kMmaUnroll], wb[kMmaUnroll], xa[kMmaUnroll][NT];
#pragma unroll
    for (int u = 0; u < kMmaUnroll; ++u) {
      const int k = (c + u * kWarps) * 32;
      if (k < K) {
        wa[u] = Load16(w0 + k);
        wb[u] = Load16(w1 + k);
#pragma unroll
        for (int j = 0; j < NT; ++j) {
          const bf16* p = a + j * 8 * stride + k;
          if constexpr (SharedAct) {
            xa[u][j] = *reinterpret_cast<const uint4*>(p);
          } else {
            xa[u][j] = Load16(p);
          }
        }
      }
    }
#pragma unroll
    for (int u = 0; u < kMmaUnroll; ++u) {
      if ((c + u * kWarps) * 32 >= K) break;
#pragma unroll
      for (int j = 0; j < NT; ++j) {
        Mma(acc[j], wa[u].x, wb[u].x, wa[u].y, wb[u].y, xa[u][j].x, xa[u][j].y);
        Mma(acc[j], wa[u].z, wb[u].z, wa[u].w, wb[u].w, xa[u][j].z, xa[u][j].w);
      }
    }
  }
}

// out = [LN](in) @ W^T through epilogue E for output rows [16 * blockIdx.x, + 16) and
// batch rows [0, B), computed in tiles of 8 rows: rows past B compute (their own columns
// only) and are not stored. Shared memory: the LayerNorm output (8 NT, K + 8) bf16 with
// Ln, then the warps' partial sums.
template <int B, Out E, bool Ln>
__global__ void __launch_bounds__(kThreads) MmaGemvKernel(
    const bf16* __restrict__ in, const bf16* __restrict__ ln_w, const bf16* __restrict__ ln_b,
    float eps, const bf16* __restrict__ W, int K, Epilogue e) {
  constexpr int NT = (B + 7) / 8;
  constexpr int kVals = NT * 4;  // accumulator values a lane holds
  extern __shared__ __align__(16) unsigned char smem[];
  __shared__ unsigned long long block_best[B];
  const int m0 = blockIdx.x * 16;
  PrefetchRows(W, e.N, K, m0, 16);
  if constexpr (E == Out::kLogits) {
    if (threadIdx.x < B) block_best[threadIdx.x] = 0;
  }
  WaitPrior();
  AllowNext();
  const int stride = Ln ? K + 8 : K;  // +8: rows start 4 banks apart
  const bf16* act = in;
  if constexpr (Ln) {
    bf16* xs = reinterpret_cast<bf16*>(smem);
    LayerNormRows<B, bf16>(in, ln_w, ln_b, K, eps, xs, stride);
    act = xs;
  }
  float acc[NT][4];
  MmaRows<NT, Ln>(W, e.N, K, m0, act, stride, acc);
  // Sum the warps' partials: red[warp][value][lane].
  float* red = reinterpret_cast<float*>(smem);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();  // the LayerNorm output (aliased by red) is no longer read
#pragma unroll
  for (int i = 0; i < kVals; ++i) red[(warp * kVals + i) * 32 + lane] = acc[i / 4][i % 4];
  __syncthreads();
  for (int idx = threadIdx.x; idx < kVals * 32; idx += kThreads) {
    const int i = idx / 32, l = idx % 32;
    float v = 0;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) v += red[(w * kVals + i) * 32 + l];
    // The m16n8 accumulator layout: value c of tile j is row g (+ 8 for c >= 2),
    // batch column 2t + (c & 1).
    const int j = i / 4, c = i % 4, g = l / 4, t = l % 4;
    const int o = m0 + g + (c >= 2 ? 8 : 0), b = j * 8 + t * 2 + (c & 1);
    if (o < e.N && b < B) {
      const unsigned long long key = Store<E>(e, o, b, v);
      if constexpr (E == Out::kLogits) atomicMax(&block_best[b], key);
    }
  }
  if constexpr (E == Out::kLogits) FinishArgmax<B>(e, block_best);
}

}  // namespace gwo::generate::fused::detail

#endif  // GWO_WORKER_GENERATE_FUSED_PROJECTION_CUH_
