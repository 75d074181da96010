// Kernels of fused_gpt2.h. Projections: for 1 and 2 rows a warp computes one output row
// for all rows of the batch (weights read once, 16-byte loads); 4 to 32 rows go through
// tensor cores, a block computing 16 output rows with K split over its warps. Both
// accumulate in fp32 and round each op's output to bf16 where PyTorch does.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cfloat>
#include <cstdint>

#include "worker/generate/fused_gpt2.h"

namespace gwo::generate::fused {
namespace {

using bf16 = __nv_bfloat16;

constexpr int kWarps = 8;  // warps per projection block
constexpr int kThreads = kWarps * 32;
constexpr int kHd = 64;    // head dim the attention kernel handles
constexpr int kUnroll = 4;     // 16-byte loads in flight per lane, warp-per-row path
constexpr int kMmaUnroll = 3;  // 32-wide K chunks in flight per warp, tensor-core path
constexpr int kMaxC = 1024;
constexpr int kAttnKeys = 64;  // keys per attention block
constexpr int kAttnThreads = 128;
constexpr int kPart = kHd + 2;  // a split's (max, sum, out[64])

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

// ---- The rest of the step ------------------------------------------------------------

__global__ void EmbedKernel(const bf16* __restrict__ wte, const bf16* __restrict__ wpe,
                            const int32_t* __restrict__ tok, const int32_t* __restrict__ pos,
                            bf16* __restrict__ x, int C) {
  WaitPrior();
  AllowNext();
  const int r = blockIdx.x;
  const bf16* e = wte + static_cast<int64_t>(tok[r]) * C;
  const bf16* p = wpe + static_cast<int64_t>(pos[r]) * C;
  for (int c = threadIdx.x; c < C; c += blockDim.x) {
    x[r * C + c] = __float2bfloat16(__bfloat162float(e[c]) + __bfloat162float(p[c]));
  }
}

// Final LayerNorm: out (B, C) bf16. One block.
template <int B>
__global__ void __launch_bounds__(kThreads) LayerNormKernel(
    const bf16* __restrict__ x, const bf16* __restrict__ w, const bf16* __restrict__ bias,
    float eps, int C, bf16* __restrict__ out) {
  WaitPrior();
  AllowNext();
  LayerNormRows<B, bf16>(x, w, bias, C, eps, out, C);
}

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

// Launches kernel k on st, as a programmatic dependent of the previous launch when pdl.
template <typename... Params, typename... Args>
void Launch(bool pdl, void (*k)(Params...), dim3 grid, dim3 block, size_t smem, cudaStream_t st,
            Args... args) {
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = smem;
  cfg.stream = st;
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = attr;
  cfg.numAttrs = pdl ? 1 : 0;
  cudaLaunchKernelEx(&cfg, k, static_cast<Params>(args)...);
}

// A projection of N output rows over K inputs for B rows; LayerNorm first when Ln. Tensor
// cores from m.tensor_core_rows rows (CUDA cores below, for 1 and 2 rows).
template <int B, Out E, bool Ln>
void Project(const Gpt2Decode& m, cudaStream_t st, const bf16* in, const void* ln_w,
             const void* ln_b, const void* W, int K, const Epilogue& e) {
  auto w = [](const void* p) { return static_cast<const bf16*>(p); };
  if constexpr (B <= 2) {
    if (B < m.tensor_core_rows) {
      const size_t smem = Ln ? sizeof(float) * B * K : 0;
      Launch(m.pdl, RowGemvKernel<B, E, Ln>, dim3((e.N + kWarps - 1) / kWarps), dim3(kThreads),
             smem, st, in, w(ln_w), w(ln_b), m.eps, w(W), K, e);
      return;
    }
  }
  {
    constexpr int NT = (B + 7) / 8;
    const size_t act = Ln ? sizeof(bf16) * NT * 8 * (K + 8) : 0;
    const size_t red = sizeof(float) * kWarps * NT * 4 * 32;
    const size_t smem = act > red ? act : red;
    cudaStreamCaptureStatus capturing = cudaStreamCaptureStatusNone;
    cudaStreamIsCapturing(st, &capturing);
    if (smem > 48 * 1024 && capturing == cudaStreamCaptureStatusNone) {
      // Set outside any capture; the warm-up step runs before the graphs are captured.
      cudaFuncSetAttribute(MmaGemvKernel<B, E, Ln>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                           static_cast<int>(smem));
    }
    Launch(m.pdl, MmaGemvKernel<B, E, Ln>, dim3((e.N + 15) / 16), dim3(kThreads), smem, st, in,
           w(ln_w), w(ln_b), m.eps, w(W), K, e);
  }
}

template <int B>
void Enqueue(const Gpt2Decode& m, int32_t* out, cudaStream_t st) {
  const int C = m.C, I = m.I, V = m.V;
  auto* x = static_cast<bf16*>(m.x);
  auto* qkv = static_cast<bf16*>(m.qkv);
  auto* y = static_cast<bf16*>(m.y);
  auto* hid = static_cast<bf16*>(m.h);
  auto w = [](const void* p) { return static_cast<const bf16*>(p); };
  const int splits = AttentionSplits(m.max_len);
  Launch(m.pdl, EmbedKernel, dim3(B), dim3(256), 0, st, w(m.wte), w(m.wpe), m.tok, m.pos, x, C);
  for (const LayerWeights& l : m.layers) {
    Epilogue qkv_e{.N = 3 * C, .bias = w(l.attn_b), .out = qkv,
                   .k_cache = static_cast<bf16*>(l.k_cache), .v_cache = static_cast<bf16*>(l.v_cache),
                   .pos = m.pos, .C = C, .n_head = m.n_head, .max_len = m.max_len};
    Project<B, Out::kQkv, true>(m, st, x, l.ln1_w, l.ln1_b, l.attn_w, C, qkv_e);
    Launch(m.pdl, AttentionKernel, dim3(splits, m.n_head, B), dim3(kAttnThreads), 0, st, qkv,
           static_cast<const bf16*>(l.k_cache), static_cast<const bf16*>(l.v_cache), m.pos, C,
           m.n_head, m.max_len, splits, m.attn_part, m.attn_count, y);
    Project<B, Out::kResidual, false>(m, st, y, nullptr, nullptr, l.proj_w, C,
                                      Epilogue{.N = C, .bias = w(l.proj_b), .out = x});
    Project<B, Out::kGelu, true>(m, st, x, l.ln2_w, l.ln2_b, l.fc_w, C,
                                 Epilogue{.N = I, .bias = w(l.fc_b), .out = hid});
    Project<B, Out::kResidual, false>(m, st, hid, nullptr, nullptr, l.mproj_w, I,
                                      Epilogue{.N = C, .bias = w(l.mproj_b), .out = x});
  }
  Launch(m.pdl, LayerNormKernel<B>, dim3(1), dim3(kThreads), 0, st, x, w(m.lnf_w), w(m.lnf_b),
         m.eps, C, y);
  Epilogue head{.N = V, .out = static_cast<bf16*>(m.logits), .max_len = m.max_len,
                .best = m.best, .done = m.head_count, .tok = m.tok, .step_out = out,
                .pos_rw = m.pos};
  Project<B, Out::kLogits, false>(m, st, y, nullptr, nullptr, m.head, C, head);
}

}  // namespace

int AttentionSplits(int max_len) { return (max_len + kAttnKeys - 1) / kAttnKeys; }

std::string Unsupported(const Gpt2Decode& m) {
  if (m.n_head <= 0 || m.C != m.n_head * kHd) return "head dim is not 64";
  if (m.C % 32 != 0 || m.I % 32 != 0) return "n_embd and intermediate_size must be multiples of 32";
  if (m.C > kMaxC) return "n_embd above 1024";
  if (m.max_len > 4096) return "block_size above 4096";
  if (m.layers.size() != static_cast<size_t>(m.n_layer)) return "layer count mismatch";
  return "";
}

std::string EnqueueStep(const Gpt2Decode& m, int B, int32_t* out, void* stream) {
  auto st = static_cast<cudaStream_t>(stream);
  switch (B) {
    case 1: Enqueue<1>(m, out, st); break;
    case 2: Enqueue<2>(m, out, st); break;
    case 4: Enqueue<4>(m, out, st); break;
    case 8: Enqueue<8>(m, out, st); break;
    case 16: Enqueue<16>(m, out, st); break;
    case 32: Enqueue<32>(m, out, st); break;
    default: return "fused decode step: B must be 1, 2, 4, 8, 16 or 32";
  }
  const cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? "" : cudaGetErrorString(e);
}

}  // namespace gwo::generate::fused
