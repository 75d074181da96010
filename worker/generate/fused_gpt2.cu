// Kernels of fused_gpt2.h: one decode step as a sequence of launches. The projections
// are in fused_projection.cuh, the attention in fused_attention.cuh, the device helpers
// in fused_ops.cuh (all one translation unit). Every op accumulates in fp32 and rounds
// its output to bf16 where PyTorch does.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "worker/generate/fused_attention.cuh"
#include "worker/generate/fused_gpt2.h"
#include "worker/generate/fused_ops.cuh"
#include "worker/generate/fused_projection.cuh"

namespace gwo::generate::fused {
namespace {

using namespace detail;  // the step's kernels and helpers

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
