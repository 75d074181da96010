// Kernels of fused_gpt2.h. A warp computes one output row of a GEMV for all B rows of
// the batch (weights read once, 16-byte loads), accumulating in fp32.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cfloat>

#include "worker/generate/fused_gpt2.h"

namespace gwo::generate::fused {
namespace {

using bf16 = __nv_bfloat16;

constexpr int kWarps = 8;  // warps (output rows) per GEMV block
constexpr int kThreads = kWarps * 32;
constexpr int kHd = 64;    // head dim the attention kernel handles
constexpr int kUnroll = 4;

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

__device__ __forceinline__ float WarpSum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Sums v[0..B) over the block (blockDim.x == kThreads); every thread gets the sums.
template <int B>
__device__ void BlockSum(float v[B], float* scratch /* kWarps * B */) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
#pragma unroll
  for (int b = 0; b < B; ++b) v[b] = WarpSum(v[b]);
  __syncthreads();  // scratch may still be read by an earlier call
  if (lane == 0) {
#pragma unroll
    for (int b = 0; b < B; ++b) scratch[warp * B + b] = v[b];
  }
  __syncthreads();
#pragma unroll
  for (int b = 0; b < B; ++b) {
    float s = 0;
    for (int w = 0; w < kWarps; ++w) s += scratch[w * B + b];
    v[b] = s;
  }
}

// out[b, :] = bf16-rounded LayerNorm(x[b, :]) for b < B, into shared memory (B, C) fp32.
template <int B>
__device__ void LayerNormToShared(const bf16* __restrict__ x, const bf16* __restrict__ w,
                                  const bf16* __restrict__ bias, int C, float eps, float* out,
                                  float* scratch) {
  float s[B];
#pragma unroll
  for (int b = 0; b < B; ++b) {
    s[b] = 0;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
      const float v = __bfloat162float(x[b * C + c]);
      out[b * C + c] = v;
      s[b] += v;
    }
  }
  BlockSum<B>(s, scratch);
  float mean[B], var[B];
#pragma unroll
  for (int b = 0; b < B; ++b) {
    mean[b] = s[b] / C;
    var[b] = 0;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
      const float d = out[b * C + c] - mean[b];
      var[b] += d * d;
    }
  }
  BlockSum<B>(var, scratch);
#pragma unroll
  for (int b = 0; b < B; ++b) {
    const float rstd = rsqrtf(var[b] / C + eps);
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
      out[b * C + c] = Round((out[b * C + c] - mean[b]) * rstd * __bfloat162float(w[c]) +
                             __bfloat162float(bias[c]));
    }
  }
  __syncthreads();
}

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
      if (k < K) wv[u] = __ldg(reinterpret_cast<const uint4*>(wrow + k));
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

__device__ __forceinline__ float GeluTanh(float v) {
  const float k = 0.7978845608028654f;  // sqrt(2 / pi)
  return 0.5f * v * (1.f + tanhf(k * (v + 0.044715f * v * v * v)));
}

__global__ void EmbedKernel(const bf16* __restrict__ wte, const bf16* __restrict__ wpe,
                            const int32_t* __restrict__ tok, const int32_t* __restrict__ pos,
                            bf16* __restrict__ x, int C) {
  const int r = blockIdx.x;
  const bf16* e = wte + static_cast<int64_t>(tok[r]) * C;
  const bf16* p = wpe + static_cast<int64_t>(pos[r]) * C;
  for (int c = threadIdx.x; c < C; c += blockDim.x) {
    x[r * C + c] = __float2bfloat16(__bfloat162float(e[c]) + __bfloat162float(p[c]));
  }
}

enum class LnEpilogue { kQkv, kFcGelu };

// out = LN(x) @ W^T + bias for N output rows; kQkv writes q into qkv and k, v into the
// cache at pos; kFcGelu writes GELU(tanh) into out (B, N).
template <int B, LnEpilogue E>
__global__ void __launch_bounds__(kThreads) LnGemvKernel(
    const bf16* __restrict__ x, const bf16* __restrict__ ln_w, const bf16* __restrict__ ln_b,
    float eps, const bf16* __restrict__ W, const bf16* __restrict__ bias, int N, int C,
    bf16* __restrict__ out, bf16* __restrict__ k_cache, bf16* __restrict__ v_cache,
    const int32_t* __restrict__ pos, int n_head, int max_len) {
  extern __shared__ float xs[];  // (B, C)
  __shared__ float scratch[kWarps * B];
  LayerNormToShared<B>(x, ln_w, ln_b, C, eps, xs, scratch);
  const int o = blockIdx.x * kWarps + threadIdx.x / 32;
  if (o >= N) return;
  float acc[B];
  WarpDot<B, true>(W + static_cast<int64_t>(o) * C, xs, C, acc);
  const int lane = threadIdx.x % 32;
  if (lane >= B) return;
  // Lane b writes row b's value (B <= 8 < 32).
  float v = 0;
#pragma unroll
  for (int b = 0; b < B; ++b) if (b == lane) v = acc[b];
  v = Round(v + __bfloat162float(bias[o]));
  const int b = lane;
  if constexpr (E == LnEpilogue::kQkv) {
    if (o < C) {
      out[b * N + o] = __float2bfloat16(v);
    } else {
      const int oc = (o - C) % C, h = oc / kHd, d = oc % kHd;
      bf16* cache = o < 2 * C ? k_cache : v_cache;
      const int64_t slot = (static_cast<int64_t>(b) * n_head + h) * max_len + pos[b];
      cache[slot * kHd + d] = __float2bfloat16(v);
    }
  } else {
    out[b * N + o] = __float2bfloat16(GeluTanh(v));
  }
}

enum class Epilogue { kResidual, kLogits };

// kResidual: x[b, o] = x + round(in @ W^T + bias); kLogits: out[b, o] = in @ W^T.
template <int B, Epilogue E>
__global__ void __launch_bounds__(kThreads) GemvKernel(
    const bf16* __restrict__ in, const bf16* __restrict__ W, const bf16* __restrict__ bias,
    int N, int K, bf16* __restrict__ out) {
  const int o = blockIdx.x * kWarps + threadIdx.x / 32;
  if (o >= N) return;
  float acc[B];
  WarpDot<B, false>(W + static_cast<int64_t>(o) * K, in, K, acc);
  const int lane = threadIdx.x % 32;
  if (lane >= B) return;
  float v = 0;
#pragma unroll
  for (int b = 0; b < B; ++b) if (b == lane) v = acc[b];
  const int b = lane;
  if constexpr (E == Epilogue::kResidual) {
    v = Round(v + __bfloat162float(bias[o]));
    out[b * N + o] = __float2bfloat16(__bfloat162float(out[b * N + o]) + v);
  } else {
    out[b * N + o] = __float2bfloat16(v);
  }
}

// Final LayerNorm: out (B, C) bf16. One block.
template <int B>
__global__ void __launch_bounds__(kThreads) LayerNormKernel(
    const bf16* __restrict__ x, const bf16* __restrict__ w, const bf16* __restrict__ bias,
    float eps, int C, bf16* __restrict__ out) {
  extern __shared__ float xs[];
  __shared__ float scratch[kWarps * B];
  LayerNormToShared<B>(x, w, bias, C, eps, xs, scratch);
  for (int i = threadIdx.x; i < B * C; i += blockDim.x) out[i] = __float2bfloat16(xs[i]);
}

// Attention of row blockIdx.y, head blockIdx.x: its query against keys 0..pos.
constexpr int kAttnThreads = 256;
__global__ void __launch_bounds__(kAttnThreads) AttentionKernel(
    const bf16* __restrict__ qkv, const bf16* __restrict__ k_cache,
    const bf16* __restrict__ v_cache, const int32_t* __restrict__ pos, int C, int n_head,
    int max_len, bf16* __restrict__ y) {
  extern __shared__ float s[];  // (max_len) scores, then probabilities
  __shared__ float q[kHd];
  __shared__ float red[kAttnThreads];
  const int h = blockIdx.x, r = blockIdx.y, t = threadIdx.x;
  const int L = min(pos[r], max_len - 1) + 1;
  if (t < kHd) q[t] = __bfloat162float(qkv[r * 3 * C + h * kHd + t]) * rsqrtf(float(kHd));
  __syncthreads();
  const int64_t base = (static_cast<int64_t>(r) * n_head + h) * max_len * kHd;
  const bf16* kc = k_cache + base;
  const bf16* vc = v_cache + base;
  float m = -FLT_MAX;
  for (int j = t; j < L; j += kAttnThreads) {
    const uint4* kr = reinterpret_cast<const uint4*>(kc + static_cast<int64_t>(j) * kHd);
    float dot = 0;
#pragma unroll
    for (int c = 0; c < kHd / 8; ++c) {
      float kf[8];
      Unpack(kr[c], kf);
#pragma unroll
      for (int i = 0; i < 8; ++i) dot = fmaf(q[c * 8 + i], kf[i], dot);
    }
    s[j] = dot;
    m = fmaxf(m, dot);
  }
  red[t] = m;
  __syncthreads();
  for (int w = kAttnThreads / 2; w > 0; w >>= 1) {
    if (t < w) red[t] = fmaxf(red[t], red[t + w]);
    __syncthreads();
  }
  m = red[0];
  __syncthreads();
  float sum = 0;
  for (int j = t; j < L; j += kAttnThreads) {
    const float e = __expf(s[j] - m);
    s[j] = e;
    sum += e;
  }
  red[t] = sum;
  __syncthreads();
  for (int w = kAttnThreads / 2; w > 0; w >>= 1) {
    if (t < w) red[t] += red[t + w];
    __syncthreads();
  }
  const float total = red[0];
  __syncthreads();
  // Thread t: dim t % 64 over keys j = t / 64 (mod 4).
  constexpr int kGroups = kAttnThreads / kHd;
  const int d = t % kHd, g = t / kHd;
  float acc = 0;
#pragma unroll 4
  for (int j = g; j < L; j += kGroups) {
    acc = fmaf(s[j], __bfloat162float(vc[static_cast<int64_t>(j) * kHd + d]), acc);
  }
  red[t] = acc;
  __syncthreads();
  if (g == 0) {
    float o = 0;
    for (int i = 0; i < kGroups; ++i) o += red[i * kHd + d];
    y[r * C + h * kHd + d] = __float2bfloat16(o / total);
  }
}

// tok[r] = argmax(logits[r, :]) (lowest id on ties), out[r] too, pos[r] advanced.
constexpr int kArgmaxThreads = 1024;
__global__ void __launch_bounds__(kArgmaxThreads) ArgmaxKernel(
    const bf16* __restrict__ logits, int V, int32_t* __restrict__ tok,
    int32_t* __restrict__ pos, int max_len, int32_t* __restrict__ out) {
  __shared__ float best[kArgmaxThreads / 32];
  __shared__ int best_id[kArgmaxThreads / 32];
  const int r = blockIdx.x, t = threadIdx.x;
  const bf16* row = logits + static_cast<int64_t>(r) * V;
  float m = -FLT_MAX;
  int id = 0x7fffffff;
  for (int i = t; i < V; i += kArgmaxThreads) {
    const float v = __bfloat162float(row[i]);
    if (v > m) { m = v; id = i; }  // ids rise along a thread's loop: first max kept
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const float m2 = __shfl_xor_sync(0xffffffffu, m, o);
    const int id2 = __shfl_xor_sync(0xffffffffu, id, o);
    if (m2 > m || (m2 == m && id2 < id)) { m = m2; id = id2; }
  }
  if (t % 32 == 0) { best[t / 32] = m; best_id[t / 32] = id; }
  __syncthreads();
  if (t == 0) {
    for (int w = 1; w < kArgmaxThreads / 32; ++w) {
      if (best[w] > m || (best[w] == m && best_id[w] < id)) { m = best[w]; id = best_id[w]; }
    }
    if (id >= V) id = 0;  // every logit NaN: any valid id keeps the next step in bounds
    tok[r] = id;
    if (out) out[r] = id;
    pos[r] = min(pos[r] + 1, max_len - 1);
  }
}

int Blocks(int n) { return (n + kWarps - 1) / kWarps; }

template <int B>
void Enqueue(const Gpt2Decode& m, int32_t* out, cudaStream_t st) {
  const int C = m.C, I = m.I, V = m.V;
  auto* x = static_cast<bf16*>(m.x);
  auto* qkv = static_cast<bf16*>(m.qkv);
  auto* y = static_cast<bf16*>(m.y);
  auto* hid = static_cast<bf16*>(m.h);
  auto* logits = static_cast<bf16*>(m.logits);
  auto w = [](const void* p) { return static_cast<const bf16*>(p); };
  const size_t ln_smem = sizeof(float) * B * C;
  EmbedKernel<<<B, 256, 0, st>>>(w(m.wte), w(m.wpe), m.tok, m.pos, x, C);
  for (const LayerWeights& l : m.layers) {
    LnGemvKernel<B, LnEpilogue::kQkv><<<Blocks(3 * C), kThreads, ln_smem, st>>>(
        x, w(l.ln1_w), w(l.ln1_b), m.eps, w(l.attn_w), w(l.attn_b), 3 * C, C, qkv,
        static_cast<bf16*>(l.k_cache), static_cast<bf16*>(l.v_cache), m.pos, m.n_head,
        m.max_len);
    AttentionKernel<<<dim3(m.n_head, B), kAttnThreads, sizeof(float) * m.max_len, st>>>(
        qkv, static_cast<const bf16*>(l.k_cache), static_cast<const bf16*>(l.v_cache), m.pos, C,
        m.n_head, m.max_len, y);
    GemvKernel<B, Epilogue::kResidual><<<Blocks(C), kThreads, 0, st>>>(y, w(l.proj_w),
                                                                       w(l.proj_b), C, C, x);
    LnGemvKernel<B, LnEpilogue::kFcGelu><<<Blocks(I), kThreads, ln_smem, st>>>(
        x, w(l.ln2_w), w(l.ln2_b), m.eps, w(l.fc_w), w(l.fc_b), I, C, hid, nullptr, nullptr,
        m.pos, m.n_head, m.max_len);
    GemvKernel<B, Epilogue::kResidual><<<Blocks(C), kThreads, 0, st>>>(hid, w(l.mproj_w),
                                                                       w(l.mproj_b), C, I, x);
  }
  LayerNormKernel<B><<<1, kThreads, ln_smem, st>>>(x, w(m.lnf_w), w(m.lnf_b), m.eps, C, y);
  GemvKernel<B, Epilogue::kLogits><<<Blocks(V), kThreads, 0, st>>>(y, w(m.head), nullptr, V, C,
                                                                   logits);
  ArgmaxKernel<<<B, kArgmaxThreads, 0, st>>>(logits, V, m.tok, m.pos, m.max_len, out);
}

}  // namespace

std::string Unsupported(const Gpt2Decode& m) {
  if (m.n_head <= 0 || m.C != m.n_head * kHd) return "head dim is not 64";
  if (m.C % 8 != 0 || m.I % 8 != 0) return "n_embd and intermediate_size must be multiples of 8";
  if (m.C > 1024) return "n_embd above 1024";
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
    default: return "fused decode step: B must be 1, 2, 4 or 8";
  }
  const cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? "" : cudaGetErrorString(e);
}

}  // namespace gwo::generate::fused
