#include "worker/models/gpt2.h"

#include <cmath>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "worker/models/autocast_state.h"
#include "worker/models/kv_cache.h"
#include "worker/models/model_shape.h"
#include "worker/models/residual_layer_norm.h"

namespace gwo::models {
namespace {

torch::nn::LayerNorm MakeLayerNorm(const spec::ModelSpec& spec) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({spec.n_embd}).eps(spec.norm_eps));
}

// HF's GPT-2 keeps these four projections in Conv1D modules: weight (in, out).
bool IsConv1dWeight(std::string_view name) {
  for (std::string_view suffix :
       {".attn.c_attn.weight", ".attn.c_proj.weight", ".mlp.c_fc.weight", ".mlp.c_proj.weight"}) {
    if (name.ends_with(suffix)) return true;
  }
  return false;
}

constexpr char kPrefix[] = "transformer.";

}  // namespace

CausalSelfAttentionImpl::CausalSelfAttentionImpl(const spec::ModelSpec& spec,
                                                 std::shared_ptr<attention::Attention> attn)
    : n_head_(spec.n_head) {
  c_attn = register_module("c_attn", torch::nn::Linear(spec.n_embd, 3 * spec.n_embd));
  c_proj = register_module("c_proj", torch::nn::Linear(spec.n_embd, spec.n_embd));
  attention = register_module("attention", std::move(attn));
  resid_dropout_ = register_module("resid_dropout", torch::nn::Dropout(spec.dropout));
}

torch::Tensor CausalSelfAttentionImpl::forward(const torch::Tensor& x) {
  const int64_t B = x.size(0), T = x.size(1), C = x.size(2);
  const int64_t hd = C / n_head_;
  const std::vector<torch::Tensor> qkv = Project("c_attn", c_attn, x).split(C, /*dim=*/2);  // 3 x (B, T, C)
  // (B, T, C) -> (B, nh, T, hd), like q.view(B, T, nh, hd).transpose(1, 2) in PyTorch.
  auto heads = [&](const torch::Tensor& t) { return t.view({B, T, n_head_, hd}).transpose(1, 2); };
  torch::Tensor y =
      attention->forward(heads(qkv[0]), heads(qkv[1]), heads(qkv[2]));  // (B, nh, T, hd)
  y = y.transpose(1, 2).contiguous().view({B, T, C});                   // (B, T, C)
  y = Project("c_proj", c_proj, y);  // (B, T, C)
  if (attention->capture()) captured_output = y.detach();
  return resid_dropout_(y);
}

torch::Tensor CausalSelfAttentionImpl::forward_cached(const torch::Tensor& x, const CacheStep& step,
                                                int layer) {
  const int64_t B = x.size(0), T = x.size(1), C = x.size(2);
  const int64_t hd = C / n_head_;
  const std::vector<torch::Tensor> qkv = c_attn(x).split(C, /*dim=*/2);  // 3 x (B, T, C)
  auto heads = [&](const torch::Tensor& t) { return t.view({B, T, n_head_, hd}).transpose(1, 2); };
  torch::Tensor y = CachedAttention(heads(qkv[0]), heads(qkv[1]), heads(qkv[2]), step,
                                    layer);           // (B, nh, T, hd)
  y = y.transpose(1, 2).contiguous().view({B, T, C});  // (B, T, C)
  return c_proj(y);
}

MlpImpl::MlpImpl(const spec::ModelSpec& spec) {
  c_fc = register_module("c_fc", torch::nn::Linear(spec.n_embd, spec.intermediate_size));
  c_proj = register_module("c_proj", torch::nn::Linear(spec.intermediate_size, spec.n_embd));
  dropout_ = register_module("dropout", torch::nn::Dropout(spec.dropout));
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  torch::Tensor hidden = torch::gelu(Project("c_fc", c_fc, x), /*approximate=*/"tanh");  // (B, T, I), HF gelu_new
  return dropout_(Project("c_proj", c_proj, hidden));                                      // (B, T, C)
}

BlockImpl::BlockImpl(const spec::ModelSpec& spec, std::shared_ptr<attention::Attention> attention) {
  ln_1 = register_module("ln_1", MakeLayerNorm(spec));
  attn = register_module("attn", CausalSelfAttention(spec, std::move(attention)));
  ln_2 = register_module("ln_2", MakeLayerNorm(spec));
  mlp = register_module("mlp", Mlp(spec));
}

torch::Tensor BlockImpl::forward(const torch::Tensor& x) {
  torch::Tensor y = x + attn(ln_1(x));  // (B, T, C)
  return y + mlp(ln_2(y));
}

torch::Tensor BlockImpl::forward_cached(const torch::Tensor& x, const CacheStep& step, int layer) {
  torch::Tensor y = x + attn->forward_cached(ln_1(x), step, layer);  // (B, T, C)
  return y + mlp(ln_2(y));
}

Gpt2Impl::Gpt2Impl(const spec::ModelSpec& spec,
                   const std::vector<std::shared_ptr<attention::Attention>>& attentions)
    : CausalLm(spec) {
  wte = register_module("wte", torch::nn::Embedding(spec.vocab_size, spec.n_embd));
  wpe = register_module("wpe", torch::nn::Embedding(spec.block_size, spec.n_embd));
  drop_ = register_module("drop", torch::nn::Dropout(spec.dropout));
  h = register_module("h", torch::nn::ModuleList());
  for (const auto& attention : attentions) h->push_back(Block(spec, attention));
  ln_f = register_module("ln_f", MakeLayerNorm(spec));
  if (!spec.tie_embeddings) {
    lm_head = register_module(
        "lm_head",
        torch::nn::Linear(torch::nn::LinearOptions(spec.n_embd, spec.vocab_size).bias(false)));
  }

  torch::NoGradGuard no_grad;
  const double residual_std = 0.02 / std::sqrt(2.0 * spec.n_layer);
  for (auto& item : named_parameters()) {
    const std::string& name = item.key();
    torch::Tensor& param = item.value();
    if (absl::EndsWith(name, ".bias")) {
      param.zero_();
    } else if (param.dim() >= 2) {  // Linear weights and embeddings; LayerNorm keeps 1/0
      param.normal_(0.0, absl::EndsWith(name, "c_proj.weight") ? residual_std : 0.02);
    }
  }
}

torch::Tensor Gpt2Impl::forward(const torch::Tensor& idx) {
  // (B, T, V): x @ wte^T with the tied head.
  return torch::linear(forward_hidden(idx), lm_head_weight());
}

torch::Tensor Gpt2Impl::forward_hidden(const torch::Tensor& idx) {
  TORCH_CHECK(idx.dim() == 2, "GPT-2 expects token ids of shape (B, T), got ", idx.sizes());
  const int64_t T = idx.size(1);
  TORCH_CHECK(T <= block_size(), "sequence length ", T, " exceeds block_size ", block_size());
  const torch::Tensor pos = torch::arange(T, idx.options().dtype(torch::kLong));  // (T)
  torch::Tensor x = drop_(wte(idx) + wpe(pos));                                   // (B, T, C)
  if (!PairsResidualAndNorm(x)) {
    for (const auto& block : *h) x = block->as<BlockImpl>()->forward(x);
    return ln_f(x);  // (B, T, C)
  }
  // The same blocks with each residual add fused to the LayerNorm that reads the sum
  // (ln_2 of the block, then ln_1 of the next block or ln_f); the normalised activations
  // come out in the dtype the next matmul computes in (bf16 under autocast).
  const torch::Dtype compute = MatmulDtypeNow(x.device(), x.scalar_type());
  const size_t L = h->size();
  torch::Tensor a = (L > 0 ? h[0]->as<BlockImpl>()->ln_1 : ln_f)(x).to(compute);  // (B, T, C)
  for (size_t i = 0; i < L; ++i) {
    BlockImpl& block = *h[i]->as<BlockImpl>();
    const ResidualNormed mid = ResidualLayerNorm(x, block.attn(a), block.ln_2, compute);
    const torch::nn::LayerNorm& next = i + 1 < L ? h[i + 1]->as<BlockImpl>()->ln_1 : ln_f;
    const ResidualNormed out = ResidualLayerNorm(mid.sum, block.mlp(mid.normed), next, compute);
    x = out.sum;
    a = out.normed;
  }
  return a;  // (B, T, C): ln_f of the residual stream
}

torch::Tensor Gpt2Impl::forward_cached(const torch::Tensor& idx, const CacheStep& step) {
  TORCH_CHECK(idx.dim() == 2 && idx.sizes() == step.positions.sizes(),
              "cached GPT-2 step expects token ids shaped like the positions ",
              step.positions.sizes(), ", got ", idx.sizes());
  torch::Tensor x = wte(idx) + wpe(step.positions);  // (B, T, C)
  int layer = 0;
  for (const auto& block : *h) x = block->as<BlockImpl>()->forward_cached(x, step, layer++);
  x = ln_f(x);
  return lm_head ? lm_head(x) : torch::linear(x, wte->weight);  // (B, T, V)
}

std::vector<std::shared_ptr<attention::Attention>> Gpt2Impl::attentions() const {
  std::vector<std::shared_ptr<attention::Attention>> out;
  for (const auto& block : *h) out.push_back(block->as<BlockImpl>()->attn->attention);
  return out;
}

std::vector<torch::Tensor> Gpt2Impl::CapturedAttentionOutputs() const {
  std::vector<torch::Tensor> out;
  for (const auto& block : *h) out.push_back(block->as<BlockImpl>()->attn->captured_output);
  return out;
}

HfTensor Gpt2Impl::HfName(const std::string& torch_name, const torch::Tensor& tensor) const {
  if (torch_name.starts_with("lm_head.")) return {torch_name, tensor, false};
  return {absl::StrCat(kPrefix, torch_name), tensor, IsConv1dWeight(torch_name)};
}

std::string Gpt2Impl::CanonicalHfName(std::string_view name) const {
  // HF ignores these buffers too: the causal masks older GPT-2 checkpoints carry.
  if (name.ends_with(".attn.bias") || name.ends_with(".attn.masked_bias")) return "";
  if (name.starts_with(kPrefix) || name.starts_with("lm_head.")) return std::string(name);
  return kPrefix + std::string(name);  // GPT2Model checkpoints, e.g. the original `gpt2`
}

absl::StatusOr<Gpt2> MakeGpt2(const spec::ModelSpec& spec, const spec::AttentionSpec& attention,
                              int vocab_size) {
  absl::StatusOr<ModelParts> parts = PrepareModel("gpt2", spec, attention, vocab_size);
  if (!parts.ok()) return parts.status();
  return Gpt2(parts->resolved, parts->attentions);
}

int64_t Gpt2ParameterCount(const spec::ModelSpec& spec, int vocab_size) {
  absl::StatusOr<spec::ModelSpec> resolved = ResolveModelShape(spec, vocab_size);
  return resolved.ok() ? ParameterCount(*resolved) : -1;
}

}  // namespace gwo::models
