#include "worker/generate/fused_decode.h"

#include <torch/torch.h>

#include <algorithm>
#include <cstdlib>

#include "worker/models/gpt2.h"

#ifdef GWO_WITH_FUSED_DECODE
#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "worker/generate/fused_gpt2.h"
#endif

namespace gwo::generate {
namespace {

const models::Gpt2Impl* AsGpt2(const models::CausalLm& model) {
  return dynamic_cast<const models::Gpt2Impl*>(&model);
}

}  // namespace

#ifdef GWO_WITH_FUSED_DECODE

struct FusedDecoder::State {
  fused::Gpt2Decode m;
  std::vector<torch::Tensor> keep;  // contiguous weights the kernels read
  torch::Tensor tok, pos;           // (kMaxRows) int32 on the device
  torch::Tensor x, qkv, y, h, logits;
  torch::Tensor attn_part, attn_count, best, head_count;  // the kernels' scratch
  torch::Tensor staging;            // (2, kMaxRows) int32 pinned: tokens, positions
  torch::Tensor out;                // (steps, kMaxRows) int32 on the device
  torch::Tensor host[2];            // (steps, kMaxRows) int32 pinned
  at::cuda::CUDAEvent done[2];
  std::map<int, std::unique_ptr<at::cuda::CUDAGraph>> graphs;  // by bucket
};

bool FusedDecoder::Available() { return true; }

bool FusedDecoder::SupportsProgrammaticLaunches() {
  return torch::cuda::is_available() && at::cuda::getCurrentDeviceProperties()->major >= 9;
}

std::string FusedDecoder::Unsupported(const models::CausalLm& model, const models::KvCache& cache) {
  const models::Gpt2Impl* g = AsGpt2(model);
  if (!g) return "not a GPT-2";
  for (const auto& p : g->named_parameters()) {
    if (p.key().find("_lora.") != std::string::npos) return "LoRA adapters";
    if (!p.value().is_cuda() || p.value().scalar_type() != torch::kBFloat16) {
      return "weights are not bf16 on CUDA";
    }
  }
  if (cache.k.empty() || !cache.k[0].is_contiguous() || cache.k[0].scalar_type() != torch::kBFloat16) {
    return "cache is not contiguous bf16";
  }
  const spec::ModelSpec& s = g->spec();
  fused::Gpt2Decode m;
  m.n_layer = s.n_layer;
  m.C = s.n_embd;
  m.n_head = s.n_head;
  m.I = s.intermediate_size;
  m.max_len = static_cast<int>(cache.max_len());
  m.layers.resize(g->h->size());
  if (cache.k[0].size(1) != s.n_head) return "grouped keys and values";
  return fused::Unsupported(m);
}

FusedDecoder::FusedDecoder(models::CausalLm& model, models::KvCache& cache, int steps,
                           int tensor_core_rows)
    : s_(std::make_unique<State>()), steps_(steps) {
  TORCH_CHECK(steps >= 1, "fused decode: steps must be >= 1");
  const std::string why = Unsupported(model, cache);
  TORCH_CHECK(why.empty(), "fused decode: ", why);
  c10::InferenceMode inference;
  auto& g = dynamic_cast<models::Gpt2Impl&>(model);
  const spec::ModelSpec& s = g.spec();
  fused::Gpt2Decode& m = s_->m;
  auto ptr = [this](const torch::Tensor& t) -> const void* {
    s_->keep.push_back(t.contiguous());
    return s_->keep.back().data_ptr();
  };
  m.n_layer = s.n_layer;
  m.C = s.n_embd;
  m.n_head = s.n_head;
  m.I = s.intermediate_size;
  m.V = static_cast<int>(g.wte->weight.size(0));
  m.max_len = static_cast<int>(cache.max_len());
  m.eps = static_cast<float>(s.norm_eps > 0 ? s.norm_eps : 1e-5);
  m.tensor_core_rows = tensor_core_rows;
  m.wte = ptr(g.wte->weight);
  m.wpe = ptr(g.wpe->weight);
  m.lnf_w = ptr(g.ln_f->weight);
  m.lnf_b = ptr(g.ln_f->bias);
  m.head = g.lm_head ? ptr(g.lm_head->weight) : m.wte;
  int layer = 0;
  for (const auto& module : *g.h) {
    const auto* b = module->as<models::BlockImpl>();
    fused::LayerWeights l;
    l.ln1_w = ptr(b->ln_1->weight);
    l.ln1_b = ptr(b->ln_1->bias);
    l.attn_w = ptr(b->attn->c_attn->weight);
    l.attn_b = ptr(b->attn->c_attn->bias);
    l.proj_w = ptr(b->attn->c_proj->weight);
    l.proj_b = ptr(b->attn->c_proj->bias);
    l.ln2_w = ptr(b->ln_2->weight);
    l.ln2_b = ptr(b->ln_2->bias);
    l.fc_w = ptr(b->mlp->c_fc->weight);
    l.fc_b = ptr(b->mlp->c_fc->bias);
    l.mproj_w = ptr(b->mlp->c_proj->weight);
    l.mproj_b = ptr(b->mlp->c_proj->bias);
    l.k_cache = cache.k[layer].data_ptr();
    l.v_cache = cache.v[layer].data_ptr();
    m.layers.push_back(l);
    ++layer;
  }
  const int R = fused::kMaxRows;
  const auto dev = cache.k[0].device();
  const auto bf = torch::TensorOptions().dtype(torch::kBFloat16).device(dev);
  const auto i32 = torch::TensorOptions().dtype(torch::kInt);
  s_->tok = torch::zeros({R}, i32.device(dev));
  s_->pos = torch::zeros({R}, i32.device(dev));
  s_->x = torch::zeros({R, m.C}, bf);
  s_->qkv = torch::zeros({R, 3 * m.C}, bf);
  s_->y = torch::zeros({R, m.C}, bf);
  s_->h = torch::zeros({R, m.I}, bf);
  s_->logits = torch::zeros({R, m.V}, bf);
  s_->attn_part = torch::zeros({R, m.n_head, fused::AttentionSplits(m.max_len), 66},
                               torch::TensorOptions().dtype(torch::kFloat).device(dev));
  s_->attn_count = torch::zeros({R, m.n_head}, i32.device(dev));
  s_->best = torch::zeros({R}, torch::TensorOptions().dtype(torch::kLong).device(dev));
  s_->head_count = torch::zeros({1}, i32.device(dev));
  s_->staging = torch::zeros({2, R}, i32).pin_memory();
  s_->out = torch::zeros({steps, R}, i32.device(dev));
  for (auto& h : s_->host) h = torch::zeros({steps, R}, i32).pin_memory();
  m.tok = s_->tok.data_ptr<int32_t>();
  m.pos = s_->pos.data_ptr<int32_t>();
  m.x = s_->x.data_ptr();
  m.qkv = s_->qkv.data_ptr();
  m.y = s_->y.data_ptr();
  m.h = s_->h.data_ptr();
  m.logits = s_->logits.data_ptr();
  m.attn_part = s_->attn_part.data_ptr<float>();
  m.attn_count = s_->attn_count.data_ptr<int32_t>();
  m.best = reinterpret_cast<unsigned long long*>(s_->best.data_ptr<int64_t>());
  m.head_count = reinterpret_cast<uint32_t*>(s_->head_count.data_ptr<int32_t>());
  // Programmatic dependent launches need sm_90; GWO_FUSED_PDL=0 turns them off.
  const char* pdl_env = std::getenv("GWO_FUSED_PDL");
  {
    c10::cuda::CUDAGuard device_guard(dev);
    m.pdl = SupportsProgrammaticLaunches() && !(pdl_env && std::string(pdl_env) == "0");
  }
  max_rows_ = 1;  // the largest bucket (a power of two) the cache's rows hold
  while (max_rows_ * 2 <= std::min<int64_t>(R, cache.rows())) max_rows_ *= 2;

  // One graph per bucket, captured on a side stream after an eager warm-up step (which
  // loads the kernels); steps start from token 0 at position 0 of free rows. Should a
  // capture with programmatic dependent launches fail, every graph is captured without.
  try {
    Capture();
  } catch (const c10::Error&) {
    if (!m.pdl) throw;
    m.pdl = false;
    s_->graphs.clear();
    (void)cudaGetLastError();
    Capture();
  }
}

void FusedDecoder::Capture() {
  fused::Gpt2Decode& m = s_->m;
  c10::cuda::CUDAStream stream = c10::cuda::getStreamFromPool();
  c10::cuda::getCurrentCUDAStream().synchronize();
  c10::cuda::CUDAStreamGuard guard(stream);
  for (int b = 1; b <= max_rows_; b *= 2) {
    s_->tok.zero_();
    s_->pos.zero_();
    std::string err = fused::EnqueueStep(m, b, nullptr, stream.stream());
    TORCH_CHECK(err.empty(), "fused decode warm-up: ", err);
    stream.synchronize();
    auto graph = std::make_unique<at::cuda::CUDAGraph>();
    graph->capture_begin();
    for (int k = 0; k < steps_ && err.empty(); ++k) {
      err = fused::EnqueueStep(m, b, s_->out[k].data_ptr<int32_t>(), stream.stream());
    }
    graph->capture_end();
    TORCH_CHECK(err.empty(), "fused decode capture: ", err);
    s_->graphs[b] = std::move(graph);
  }
  stream.synchronize();
}

bool FusedDecoder::programmatic_launches() const { return s_->m.pdl; }

FusedDecoder::~FusedDecoder() = default;

int FusedDecoder::Bucket(int n) const {
  TORCH_CHECK(n >= 1 && n <= max_rows_, "fused decode of ", n, " rows; at most ", max_rows_);
  int b = 1;
  while (b < n) b *= 2;
  return b;
}

void FusedDecoder::Upload(const std::vector<int64_t>& tokens, const std::vector<int64_t>& positions) {
  TORCH_CHECK(queue_.empty(), "fused decode: a chunk is still in flight");
  TORCH_CHECK(tokens.size() == positions.size(), "fused decode: tokens and positions differ in size");
  const int R = fused::kMaxRows;
  int32_t* host = s_->staging.data_ptr<int32_t>();
  std::fill(host, host + 2 * R, 0);  // padded rows: token 0 at position 0 of a free row
  for (size_t i = 0; i < tokens.size(); ++i) {
    TORCH_CHECK(positions[i] >= 0 && positions[i] < s_->m.max_len, "fused decode: position ",
                positions[i], " outside the cache");
    host[i] = static_cast<int32_t>(tokens[i]);
    host[R + i] = static_cast<int32_t>(positions[i]);
  }
  // The staging buffer is rewritten only once nothing is in flight, i.e. after this
  // copy completed.
  s_->tok.copy_(s_->staging[0], /*non_blocking=*/true);
  s_->pos.copy_(s_->staging[1], /*non_blocking=*/true);
}

void FusedDecoder::Start(const std::vector<int64_t>& tokens, const std::vector<int64_t>& positions) {
  n_ = static_cast<int>(tokens.size());
  Bucket(n_);
  Upload(tokens, positions);
  Continue();
}

void FusedDecoder::Continue() {
  TORCH_CHECK(n_ > 0, "fused decode: Continue before Start");
  TORCH_CHECK(queue_.size() < 2, "fused decode: two chunks already in flight");
  const int64_t seq = next_seq_++;
  s_->graphs.at(Bucket(n_))->replay();
  s_->host[seq % 2].copy_(s_->out, /*non_blocking=*/true);
  s_->done[seq % 2].record(c10::cuda::getCurrentCUDAStream());
  queue_.push_back(seq);
}

std::vector<int32_t> FusedDecoder::Wait() {
  TORCH_CHECK(!queue_.empty(), "fused decode: no chunk in flight");
  const int64_t seq = queue_.front();
  queue_.pop_front();
  s_->done[seq % 2].synchronize();
  const int32_t* host = s_->host[seq % 2].data_ptr<int32_t>();
  std::vector<int32_t> tokens(static_cast<size_t>(steps_) * n_);
  for (int k = 0; k < steps_; ++k) {
    std::copy(host + k * fused::kMaxRows, host + k * fused::kMaxRows + n_, tokens.begin() + k * n_);
  }
  return tokens;
}

torch::Tensor FusedDecoder::StepLogits(const std::vector<int64_t>& tokens,
                                       const std::vector<int64_t>& positions) {
  const int n = static_cast<int>(tokens.size());
  const int b = Bucket(n);
  Upload(tokens, positions);
  const std::string err =
      fused::EnqueueStep(s_->m, b, nullptr, c10::cuda::getCurrentCUDAStream().stream());
  TORCH_CHECK(err.empty(), "fused decode step: ", err);
  return s_->logits.narrow(0, 0, n).to(torch::kFloat);
}

#else  // no fused kernels in this build

struct FusedDecoder::State {};
bool FusedDecoder::Available() { return false; }
bool FusedDecoder::SupportsProgrammaticLaunches() { return false; }
std::string FusedDecoder::Unsupported(const models::CausalLm& model, const models::KvCache&) {
  return AsGpt2(model) ? "this build has no CUDA kernels" : "not a GPT-2";
}
FusedDecoder::FusedDecoder(models::CausalLm&, models::KvCache&, int steps, int) : steps_(steps) {
  TORCH_CHECK(false, "fused decode: this build has no CUDA kernels");
}
FusedDecoder::~FusedDecoder() = default;
void FusedDecoder::Capture() {}
bool FusedDecoder::programmatic_launches() const { return false; }
int FusedDecoder::Bucket(int) const { return 0; }
void FusedDecoder::Upload(const std::vector<int64_t>&, const std::vector<int64_t>&) {}
void FusedDecoder::Start(const std::vector<int64_t>&, const std::vector<int64_t>&) {
  TORCH_CHECK(false, "fused decode: this build has no CUDA kernels");
}
void FusedDecoder::Continue() { TORCH_CHECK(false, "fused decode: this build has no CUDA kernels"); }
std::vector<int32_t> FusedDecoder::Wait() {
  TORCH_CHECK(false, "fused decode: this build has no CUDA kernels");
}
torch::Tensor FusedDecoder::StepLogits(const std::vector<int64_t>&, const std::vector<int64_t>&) {
  TORCH_CHECK(false, "fused decode: this build has no CUDA kernels");
}

#endif

}  // namespace gwo::generate
