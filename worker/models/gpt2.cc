#include "worker/models/gpt2.h"

#include <cmath>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "worker/attention/registry.h"

namespace gwo::models {

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
  const std::vector<torch::Tensor> qkv = c_attn(x).split(C, /*dim=*/2);  // 3 x (B, T, C)
  // (B, T, C) -> (B, nh, T, hd), like q.view(B, T, nh, hd).transpose(1, 2) in PyTorch.
  auto heads = [&](const torch::Tensor& t) { return t.view({B, T, n_head_, hd}).transpose(1, 2); };
  torch::Tensor y =
      attention->forward(heads(qkv[0]), heads(qkv[1]), heads(qkv[2]));  // (B, nh, T, hd)
  y = y.transpose(1, 2).contiguous().view({B, T, C});                   // (B, T, C)
  return resid_dropout_(c_proj(y));
}

MlpImpl::MlpImpl(const spec::ModelSpec& spec) {
  c_fc = register_module("c_fc", torch::nn::Linear(spec.n_embd, 4 * spec.n_embd));
  c_proj = register_module("c_proj", torch::nn::Linear(4 * spec.n_embd, spec.n_embd));
  dropout_ = register_module("dropout", torch::nn::Dropout(spec.dropout));
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  torch::Tensor hidden = torch::gelu(c_fc(x), /*approximate=*/"tanh");  // (B, T, 4C)
  return dropout_(c_proj(hidden));                                      // (B, T, C)
}

BlockImpl::BlockImpl(const spec::ModelSpec& spec, std::shared_ptr<attention::Attention> attention) {
  ln_1 = register_module("ln_1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({spec.n_embd})));
  attn = register_module("attn", CausalSelfAttention(spec, std::move(attention)));
  ln_2 = register_module("ln_2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({spec.n_embd})));
  mlp = register_module("mlp", Mlp(spec));
}

torch::Tensor BlockImpl::forward(const torch::Tensor& x) {
  torch::Tensor y = x + attn(ln_1(x));  // (B, T, C)
  return y + mlp(ln_2(y));
}

Gpt2Impl::Gpt2Impl(const spec::ModelSpec& spec, int vocab_size,
                   const std::vector<std::shared_ptr<attention::Attention>>& attentions)
    : spec_(spec), vocab_size_(vocab_size) {
  wte = register_module("wte", torch::nn::Embedding(vocab_size, spec.n_embd));
  wpe = register_module("wpe", torch::nn::Embedding(spec.block_size, spec.n_embd));
  drop_ = register_module("drop", torch::nn::Dropout(spec.dropout));
  h = register_module("h", torch::nn::ModuleList());
  for (const auto& attention : attentions) h->push_back(Block(spec, attention));
  ln_f = register_module("ln_f", torch::nn::LayerNorm(torch::nn::LayerNormOptions({spec.n_embd})));

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
  TORCH_CHECK(idx.dim() == 2, "GPT-2 expects token ids of shape (B, T), got ", idx.sizes());
  const int64_t T = idx.size(1);
  TORCH_CHECK(T <= spec_.block_size, "sequence length ", T, " exceeds block_size ",
              spec_.block_size);
  const torch::Tensor pos = torch::arange(T, idx.options().dtype(torch::kLong));  // (T)
  torch::Tensor x = drop_(wte(idx) + wpe(pos));                                   // (B, T, C)
  for (const auto& block : *h) x = block->as<BlockImpl>()->forward(x);
  x = ln_f(x);
  return torch::linear(x, wte->weight);  // (B, T, V): x @ wte^T, the tied LM head
}

std::vector<std::shared_ptr<attention::Attention>> Gpt2Impl::attentions() const {
  std::vector<std::shared_ptr<attention::Attention>> out;
  for (const auto& block : *h) out.push_back(block->as<BlockImpl>()->attn->attention);
  return out;
}

absl::StatusOr<Gpt2> MakeGpt2(const spec::ModelSpec& spec, const spec::AttentionSpec& attention,
                              int vocab_size) {
  if (spec.arch != "gpt2") {
    return absl::InvalidArgumentError(absl::StrCat("model arch '", spec.arch, "' is not gpt2"));
  }
  if (spec.n_layer <= 0 || spec.n_head <= 0 || spec.n_embd <= 0 || spec.block_size <= 0 ||
      vocab_size <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "GPT-2 sizes must be positive: n_layer ", spec.n_layer, ", n_head ", spec.n_head,
        ", n_embd ", spec.n_embd, ", block_size ", spec.block_size, ", vocab ", vocab_size));
  }
  if (spec.n_embd % spec.n_head != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("n_head ", spec.n_head, " does not divide n_embd ", spec.n_embd));
  }
  if (!(spec.dropout >= 0.0 && spec.dropout < 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("dropout must be in [0, 1), got ", spec.dropout));
  }
  const attention::AttentionDims dims{.n_head = spec.n_head,
                                      .head_dim = spec.n_embd / spec.n_head,
                                      .block_size = spec.block_size,
                                      .dropout = spec.dropout};
  std::vector<std::shared_ptr<attention::Attention>> attentions;
  for (int i = 0; i < spec.n_layer; ++i) {
    absl::StatusOr<std::shared_ptr<attention::Attention>> made =
        attention::MakeAttention(attention, dims);
    if (!made.ok()) return made.status();
    attentions.push_back(*std::move(made));
  }
  return Gpt2(spec, vocab_size, attentions);
}

int64_t Gpt2ParameterCount(const spec::ModelSpec& spec, int vocab_size) {
  const int64_t C = spec.n_embd;
  const int64_t per_block = 12 * C * C + 13 * C;  // ln_1 2C, c_attn 3C^2+3C, c_proj C^2+C,
                                                  // ln_2 2C, c_fc 4C^2+4C, c_proj 4C^2+C
  return vocab_size * C + spec.block_size * C + spec.n_layer * per_block + 2 * C;
}

ParameterCounts CountParameters(const torch::nn::Module& module) {
  ParameterCounts counts;
  for (const torch::Tensor& p : module.parameters()) {
    counts.total += p.numel();
    if (p.requires_grad()) counts.trainable += p.numel();
  }
  return counts;
}

}  // namespace gwo::models
