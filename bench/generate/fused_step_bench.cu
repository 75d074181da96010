// Times the fused GPT-2 decode step (worker/generate/fused_gpt2.cu) alone, without
// LibTorch: GPT-2 124M shape (12 x 768, 1024 positions, vocabulary 50257), random bf16
// weights, every row at position POS of a 32-row cache, chunks of 8 steps captured in
// one CUDA graph as the engine does. For each batch 1..32, with and without
// programmatic dependent launches: microseconds per step (median of 5 rounds of 50
// replays). Also checks that the two launch modes give the same tokens, and that row 0's
// logits agree between batch 1 (CUDA-core kernels) and batch 32 (tensor cores).
//
//   nvcc -std=c++20 -O3 -arch=sm_90 -I. bench/generate/fused_step_bench.cu \
//        worker/generate/fused_gpt2.cu -o /tmp/fused_step_bench && /tmp/fused_step_bench [POS [ROWS [ROUNDS]]]
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "worker/generate/fused_gpt2.h"

namespace fz = gwo::generate::fused;

#define CHECK(x)                                                                     \
  do {                                                                               \
    cudaError_t e_ = (x);                                                            \
    if (e_ != cudaSuccess) {                                                         \
      std::fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_)); \
      std::exit(1);                                                                  \
    }                                                                                \
  } while (0)

namespace {

std::mt19937 rng(7);

void* Bf16(size_t n, float scale, float offset = 0) {
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<__nv_bfloat16> h(n);
  for (auto& v : h) v = __float2bfloat16(offset + (scale > 0 ? scale * d(rng) : 0.f));
  void* p;
  CHECK(cudaMalloc(&p, n * 2));
  CHECK(cudaMemcpy(p, h.data(), n * 2, cudaMemcpyHostToDevice));
  return p;
}

void* Zeros(size_t bytes) {
  void* p;
  CHECK(cudaMalloc(&p, bytes));
  CHECK(cudaMemset(p, 0, bytes));
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  const int P = argc > 1 ? std::atoi(argv[1]) : 128;
  const int only_rows = argc > 2 ? std::atoi(argv[2]) : 0;  // 0: every batch size
  const int rounds_n = argc > 3 ? std::atoi(argv[3]) : 5;
  fz::Gpt2Decode m;
  m.n_layer = 12;
  m.C = 768;
  m.n_head = 12;
  m.I = 3072;
  m.V = 50257;
  m.max_len = 1024;
  const int C = m.C, R = fz::kMaxRows;
  m.wte = Bf16(size_t(m.V) * C, 0.02f);
  m.wpe = Bf16(size_t(m.max_len) * C, 0.01f);
  m.lnf_w = Bf16(C, 0, 1);
  m.lnf_b = Bf16(C, 0);
  m.head = m.wte;
  for (int l = 0; l < m.n_layer; ++l) {
    fz::LayerWeights w;
    w.ln1_w = Bf16(C, 0, 1);
    w.ln1_b = Bf16(C, 0);
    w.attn_w = Bf16(size_t(3) * C * C, 0.02f);
    w.attn_b = Bf16(3 * C, 0.01f);
    w.proj_w = Bf16(size_t(C) * C, 0.02f);
    w.proj_b = Bf16(C, 0.01f);
    w.ln2_w = Bf16(C, 0, 1);
    w.ln2_b = Bf16(C, 0);
    w.fc_w = Bf16(size_t(m.I) * C, 0.02f);
    w.fc_b = Bf16(m.I, 0.01f);
    w.mproj_w = Bf16(size_t(C) * m.I, 0.02f);
    w.mproj_b = Bf16(C, 0.01f);
    // The cache holds earlier positions' keys and values (random).
    w.k_cache = Bf16(size_t(R) * m.n_head * m.max_len * 64, 1.f);
    w.v_cache = Bf16(size_t(R) * m.n_head * m.max_len * 64, 1.f);
    m.layers.push_back(w);
  }
  m.tok = static_cast<int32_t*>(Zeros(R * 4));
  m.pos = static_cast<int32_t*>(Zeros(R * 4));
  m.x = Zeros(size_t(R) * C * 2);
  m.qkv = Zeros(size_t(R) * 3 * C * 2);
  m.y = Zeros(size_t(R) * C * 2);
  m.h = Zeros(size_t(R) * m.I * 2);
  m.logits = Zeros(size_t(R) * m.V * 2);
  m.attn_part = static_cast<float*>(Zeros(size_t(R) * m.n_head * fz::AttentionSplits(m.max_len) * 66 * 4));
  m.attn_count = static_cast<int32_t*>(Zeros(size_t(R) * m.n_head * 4));
  m.best = static_cast<unsigned long long*>(Zeros(R * 8));
  m.head_count = static_cast<uint32_t*>(Zeros(4));
  const std::string why = fz::Unsupported(m);
  if (!why.empty()) {
    std::fprintf(stderr, "unsupported: %s\n", why.c_str());
    return 1;
  }
  cudaDeviceProp prop;
  CHECK(cudaGetDeviceProperties(&prop, 0));
  std::printf("GPU: %s; GPT-2 124M shape, bf16, position %d, 8 steps per graph\n", prop.name, P);

  cudaStream_t st;
  CHECK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
  constexpr int kSteps = 8;
  int32_t* out;
  CHECK(cudaMalloc(&out, kSteps * R * 4));
  std::vector<int32_t> start_tok(R), start_pos(R, P);
  for (int r = 0; r < R; ++r) start_tok[r] = (r * 7919 + 11) % m.V;
  auto reset = [&] {
    CHECK(cudaMemcpyAsync(m.tok, start_tok.data(), R * 4, cudaMemcpyHostToDevice, st));
    CHECK(cudaMemcpyAsync(m.pos, start_pos.data(), R * 4, cudaMemcpyHostToDevice, st));
  };

  // Row 0's logits at batch 1 and at batch 32 (same inputs, same cache row).
  std::vector<__nv_bfloat16> l1(m.V), l32(m.V);
  for (int B : {1, 32}) {
    reset();
    std::string err = fz::EnqueueStep(m, B, nullptr, st);
    if (!err.empty()) { std::fprintf(stderr, "step: %s\n", err.c_str()); return 1; }
    CHECK(cudaStreamSynchronize(st));
    CHECK(cudaMemcpy((B == 1 ? l1 : l32).data(), m.logits, m.V * 2, cudaMemcpyDeviceToHost));
  }
  double maxdiff = 0, maxabs = 0;
  int a1 = 0, a32 = 0;
  for (int i = 0; i < m.V; ++i) {
    const float x = __bfloat162float(l1[i]), y = __bfloat162float(l32[i]);
    maxdiff = std::max(maxdiff, double(std::fabs(x - y)));
    maxabs = std::max(maxabs, double(std::fabs(x)));
    if (x > __bfloat162float(l1[a1])) a1 = i;
    if (y > __bfloat162float(l32[a32])) a32 = i;
  }
  std::printf("row 0 logits, batch 1 vs batch 32: max |diff| %.4g (max |logit| %.4g), argmax %d vs %d\n",
              maxdiff, maxabs, a1, a32);

  std::printf("\n| rows | PDL | us/step | tokens/s | tokens (first step, row 0) |\n|---|---|---|---|---|\n");
  bool same = true;
  for (int B : {1, 2, 4, 8, 16, 32}) {
    if (only_rows != 0 && B != only_rows) continue;
    std::vector<int32_t> toks[2];
    for (int pdl : {0, 1}) {
      m.pdl = pdl == 1;
      reset();
      std::string err = fz::EnqueueStep(m, B, nullptr, st);  // warm-up, outside capture
      CHECK(cudaStreamSynchronize(st));
      cudaGraph_t graph;
      CHECK(cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal));
      for (int k = 0; k < kSteps && err.empty(); ++k) err = fz::EnqueueStep(m, B, out + k * R, st);
      cudaError_t cap = cudaStreamEndCapture(st, &graph);
      if (!err.empty() || cap != cudaSuccess) {
        std::printf("| %d | %d | capture failed: %s %s | | |\n", B, pdl, err.c_str(), cudaGetErrorString(cap));
        (void)cudaGetLastError();
        continue;
      }
      cudaGraphExec_t exec;
      CHECK(cudaGraphInstantiate(&exec, graph, 0));
      reset();
      CHECK(cudaGraphLaunch(exec, st));
      toks[pdl].resize(kSteps * R);
      CHECK(cudaMemcpyAsync(toks[pdl].data(), out, kSteps * R * 4, cudaMemcpyDeviceToHost, st));
      CHECK(cudaStreamSynchronize(st));
      cudaEvent_t e0, e1;
      CHECK(cudaEventCreate(&e0));
      CHECK(cudaEventCreate(&e1));
      std::vector<float> rounds;
      for (int round = 0; round < rounds_n; ++round) {
        CHECK(cudaEventRecord(e0, st));
        for (int rep = 0; rep < 50; ++rep) {
          reset();
          CHECK(cudaGraphLaunch(exec, st));
        }
        CHECK(cudaEventRecord(e1, st));
        CHECK(cudaEventSynchronize(e1));
        float ms;
        CHECK(cudaEventElapsedTime(&ms, e0, e1));
        rounds.push_back(ms * 1000.f / (50 * kSteps));
      }
      std::sort(rounds.begin(), rounds.end());
      const float us = rounds[rounds.size() / 2];
      std::printf("| %d | %s | %.1f | %.0f | %d %d %d |\n", B, pdl ? "on" : "off", us, B * 1e6 / us,
                  toks[pdl][0], toks[pdl][R], toks[pdl][2 * R]);
      CHECK(cudaGraphExecDestroy(exec));
      CHECK(cudaGraphDestroy(graph));
    }
    if (!toks[0].empty() && !toks[1].empty()) {
      for (int k = 0; k < kSteps; ++k) {
        for (int r = 0; r < B; ++r) same = same && toks[0][k * R + r] == toks[1][k * R + r];
      }
    }
  }
  std::printf("\ntokens with and without PDL identical: %s\n", same ? "yes" : "NO");
  return same ? 0 : 2;
}
