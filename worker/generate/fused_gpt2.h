// Fused CUDA kernels of one GPT-2 decode step (rows 0..B-1 of a key/value cache, one
// new token per row, B up to 32), bf16 weights and activations, fp32 accumulation.
// Free of LibTorch: fused_decode.cc fills these structs from a models::Gpt2 and its
// KvCache. Per layer five kernels: LayerNorm 1 fused into the QKV projection (keys and
// values written straight into the cache at the row's position), attention over the
// valid positions only (split over blocks of 64 keys, the last block of a head combines
// them), the output projection with bias and residual add, LayerNorm 2 fused into the
// fc projection with GELU(tanh), the MLP projection with bias and residual add; then
// the final LayerNorm and the LM head, whose blocks also reduce the argmax (the last
// block feeds the token back). For 1 and 2 rows a warp computes one output row with
// CUDA cores; 4 to 32 rows use tensor cores (mma.sync m16n8k16, 16 output rows per
// block, K split over the block's warps). Positions and tokens live in device memory, so a
// step is CUDA-graph safe and consecutive steps can be captured together. With `pdl`,
// kernels are launched as programmatic dependents (sm_90): each one prefetches its
// weights into L2 and starts while its predecessor finishes.
//
// Rounding follows PyTorch's bf16 decoder: each op's output (LayerNorm, each
// projection with its bias, GELU, each residual sum, attention output, logits) is
// rounded to bf16; greedy ties go to the lowest token id, like torch.argmax.
#ifndef GWO_WORKER_GENERATE_FUSED_GPT2_H_
#define GWO_WORKER_GENERATE_FUSED_GPT2_H_

#include <cstdint>
#include <string>
#include <vector>

namespace gwo::generate::fused {

// Device pointers (bf16 unless noted) of one block. Weights are nn.Linear's (out, in),
// row-major and contiguous.
struct LayerWeights {
  const void* ln1_w;   // (C)
  const void* ln1_b;   // (C)
  const void* attn_w;  // (3C, C) q, k, v
  const void* attn_b;  // (3C)
  const void* proj_w;  // (C, C)
  const void* proj_b;  // (C)
  const void* ln2_w;   // (C)
  const void* ln2_b;   // (C)
  const void* fc_w;    // (I, C)
  const void* fc_b;    // (I)
  const void* mproj_w; // (C, I)
  const void* mproj_b; // (C)
  void* k_cache;       // (rows, n_head, max_len, hd), contiguous
  void* v_cache;       // (rows, n_head, max_len, hd), contiguous
};

struct Gpt2Decode {
  int n_layer = 0, C = 0, n_head = 0, I = 0, V = 0, max_len = 0;
  float eps = 1e-5f;
  const void* wte = nullptr;    // (V, C) token embedding
  const void* wpe = nullptr;    // (max_len, C) position embedding
  const void* lnf_w = nullptr;  // (C)
  const void* lnf_b = nullptr;  // (C)
  const void* head = nullptr;   // (V, C): wte when tied, else lm_head.weight
  std::vector<LayerWeights> layers;
  // Device buffers of at least kMaxRows rows.
  int32_t* tok = nullptr;  // (rows) int32: the token each row feeds in
  int32_t* pos = nullptr;  // (rows) int32: its position; the step advances it (clamped)
  void* x = nullptr;       // (rows, C) residual stream
  void* qkv = nullptr;     // (rows, 3C)
  void* y = nullptr;       // (rows, C) attention output, then final LayerNorm output
  void* h = nullptr;       // (rows, I) MLP hidden
  void* logits = nullptr;  // (rows, V)
  // Scratch, zeroed once (the kernels leave the counters and keys at zero):
  float* attn_part = nullptr;         // (rows, n_head, AttentionSplits(max_len), 66)
  int32_t* attn_count = nullptr;      // (rows, n_head)
  unsigned long long* best = nullptr;  // (rows): packed (logit, id) argmax keys
  uint32_t* head_count = nullptr;     // (1): LM head blocks done
  bool pdl = false;                   // programmatic dependent launches
  // Buckets of at least this many rows use tensor cores, smaller ones CUDA cores (1 or
  // 2 rows). With 1 every bucket computes alike, so a row's results do not depend on
  // how many rows share its step.
  int tensor_core_rows = 4;
};

// Rows a fused step handles at most; B must be 1, 2, 4, 8, 16 or 32.
inline constexpr int kMaxRows = 32;

// Blocks of keys the attention of one row and head is split into at most.
int AttentionSplits(int max_len);

// Empty when `m`'s shape suits the kernels (head dim 64, C and I multiples of 32,
// C <= 1024, max_len <= 4096); otherwise why not.
std::string Unsupported(const Gpt2Decode& m);

// Enqueues one decode step of rows [0, B) on `stream` (a cudaStream_t): reads tok and
// pos, writes the layers' keys and values at pos, logits (B, V), then sets tok to the
// argmax (ties to the lowest id), out[r] (int32, when out is not null) too, and pos to
// min(pos + 1, max_len - 1). Returns the launch error's name, or empty.
std::string EnqueueStep(const Gpt2Decode& m, int B, int32_t* out, void* stream);

}  // namespace gwo::generate::fused

#endif  // GWO_WORKER_GENERATE_FUSED_GPT2_H_
