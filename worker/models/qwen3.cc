#include "worker/models/qwen3.h"

#include "worker/models/autocast_state.h"
#include "worker/models/kv_cache.h"
#include "worker/models/residual_layer_norm.h"

namespace gwo::models {
namespace {

torch::nn::Linear NoBias(int64_t in, int64_t out) {
  return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(false));
}

}  // namespace

RmsNormImpl::RmsNormImpl(int64_t dim, double eps) : eps_(eps) {
  weight = register_parameter("weight", torch::ones({dim}));
}

torch::Tensor RmsNormImpl::forward(const torch::Tensor& x) {
  const torch::Tensor x32 = x.to(torch::kFloat32);
  const torch::Tensor variance = x32.pow(2).mean(-1, /*keepdim=*/true);  // (..., 1)
  return weight * (x32 * torch::rsqrt(variance + eps_)).to(x.scalar_type());
}

std::pair<torch::Tensor, torch::Tensor> RopeTables(int64_t T, int64_t head_dim, double theta,
                                                   const torch::Device& device) {
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat32).device(device);
  // inv_freq = 1 / theta^(arange(0, hd, 2) / hd), as HF computes it in float32.
  const torch::Tensor exponents =
      torch::arange(0, head_dim, 2, f32.dtype(torch::kLong)).to(torch::kFloat32) /
      static_cast<double>(head_dim);
  const torch::Tensor inv_freq = 1.0 / torch::pow(theta, exponents);  // (hd/2)
  const torch::Tensor positions = torch::arange(T, f32);              // (T)
  const torch::Tensor freqs = torch::outer(positions, inv_freq);      // (T, hd/2)
  const torch::Tensor emb = torch::cat({freqs, freqs}, /*dim=*/-1);   // (T, hd)
  return {emb.cos(), emb.sin()};
}

torch::Tensor ApplyRope(const torch::Tensor& x, const torch::Tensor& cos,
                        const torch::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  const torch::Tensor x1 = x.narrow(-1, 0, half), x2 = x.narrow(-1, half, half);
  const torch::Tensor rotated = torch::cat({-x2, x1}, /*dim=*/-1);  // rotate_half(x)
  return x * cos.to(x.scalar_type()) + rotated * sin.to(x.scalar_type());
}

torch::Tensor RepeatKv(const torch::Tensor& x, int64_t n_rep) {
  if (n_rep == 1) return x;
  const int64_t B = x.size(0), K = x.size(1), T = x.size(2), hd = x.size(3);
  // x[:, :, None].expand(B, K, n_rep, T, hd).reshape(B, K * n_rep, T, hd)
  return x.unsqueeze(2).expand({B, K, n_rep, T, hd}).reshape({B, K * n_rep, T, hd});
}

Qwen3AttentionImpl::Qwen3AttentionImpl(const spec::ModelSpec& spec,
                                       std::shared_ptr<attention::Attention> attn)
    : n_head_(spec.n_head), n_kv_head_(spec.n_kv_head), head_dim_(spec.head_dim) {
  q_proj = register_module("q_proj", NoBias(spec.n_embd, n_head_ * head_dim_));
  k_proj = register_module("k_proj", NoBias(spec.n_embd, n_kv_head_ * head_dim_));
  v_proj = register_module("v_proj", NoBias(spec.n_embd, n_kv_head_ * head_dim_));
  o_proj = register_module("o_proj", NoBias(n_head_ * head_dim_, spec.n_embd));
  q_norm = register_module("q_norm", RmsNorm(head_dim_, spec.norm_eps));
  k_norm = register_module("k_norm", RmsNorm(head_dim_, spec.norm_eps));
  attention = register_module("attention", std::move(attn));
}

torch::Tensor Qwen3AttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& cos,
                                          const torch::Tensor& sin) {
  const int64_t B = x.size(0), T = x.size(1);
  // (B, T, n * hd) -> (B, T, n, hd), normalised per head, -> (B, n, T, hd).
  torch::Tensor q = q_norm(Project("q_proj", q_proj, x).view({B, T, n_head_, head_dim_})).transpose(1, 2);
  torch::Tensor k = k_norm(Project("k_proj", k_proj, x).view({B, T, n_kv_head_, head_dim_})).transpose(1, 2);
  torch::Tensor v = Project("v_proj", v_proj, x).view({B, T, n_kv_head_, head_dim_}).transpose(1, 2);
  q = ApplyRope(q, cos, sin);                                            // (B, H, T, hd)
  k = RepeatKv(ApplyRope(k, cos, sin), n_head_ / n_kv_head_);            // (B, H, T, hd)
  v = RepeatKv(v, n_head_ / n_kv_head_);                                 // (B, H, T, hd)
  torch::Tensor y = attention->forward(q, k, v);                         // (B, H, T, hd)
  y = y.transpose(1, 2).contiguous().view({B, T, n_head_ * head_dim_});  // (B, T, H*hd)
  y = Project("o_proj", o_proj, y);  // (B, T, C)
  if (attention->capture()) captured_output = y.detach();
  return y;                                                      // (B, T, C)
}

torch::Tensor Qwen3AttentionImpl::forward_cached(const torch::Tensor& x, const torch::Tensor& cos,
                                                 const torch::Tensor& sin, const CacheStep& step,
                                                 int layer) {
  const int64_t B = x.size(0), T = x.size(1);
  torch::Tensor q = q_norm(q_proj(x).view({B, T, n_head_, head_dim_})).transpose(1, 2);
  torch::Tensor k = k_norm(k_proj(x).view({B, T, n_kv_head_, head_dim_})).transpose(1, 2);
  torch::Tensor v = v_proj(x).view({B, T, n_kv_head_, head_dim_}).transpose(1, 2);
  torch::Tensor y = CachedAttention(ApplyRope(q, cos, sin), ApplyRope(k, cos, sin), v, step,
                                    layer);                               // (B, H, T, hd)
  y = y.transpose(1, 2).contiguous().view({B, T, n_head_ * head_dim_});  // (B, T, H*hd)
  return o_proj(y);                                                      // (B, T, C)
}

Qwen3MlpImpl::Qwen3MlpImpl(const spec::ModelSpec& spec) {
  gate_proj = register_module("gate_proj", NoBias(spec.n_embd, spec.intermediate_size));
  up_proj = register_module("up_proj", NoBias(spec.n_embd, spec.intermediate_size));
  down_proj = register_module("down_proj", NoBias(spec.intermediate_size, spec.n_embd));
}

torch::Tensor Qwen3MlpImpl::forward(const torch::Tensor& x) {
  return Project("down_proj", down_proj,
                 torch::silu(Project("gate_proj", gate_proj, x)) * Project("up_proj", up_proj, x));  // (B, T, I) -> (B, T, C)
}

Qwen3DecoderLayerImpl::Qwen3DecoderLayerImpl(const spec::ModelSpec& spec,
                                             std::shared_ptr<attention::Attention> attention) {
  input_layernorm = register_module("input_layernorm", RmsNorm(spec.n_embd, spec.norm_eps));
  self_attn = register_module("self_attn", Qwen3Attention(spec, std::move(attention)));
  post_attention_layernorm =
      register_module("post_attention_layernorm", RmsNorm(spec.n_embd, spec.norm_eps));
  mlp = register_module("mlp", Qwen3Mlp(spec));
  dropout_ = register_module("dropout", torch::nn::Dropout(spec.dropout));
}

torch::Tensor Qwen3DecoderLayerImpl::attention_delta(const torch::Tensor& a, const torch::Tensor& cos,
                                                     const torch::Tensor& sin) {
  return dropout_(self_attn(a, cos, sin));  // (B, T, C)
}

torch::Tensor Qwen3DecoderLayerImpl::mlp_delta(const torch::Tensor& a) { return dropout_(mlp(a)); }

torch::Tensor Qwen3DecoderLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& cos,
                                             const torch::Tensor& sin) {
  torch::Tensor y = x + dropout_(self_attn(input_layernorm(x), cos, sin));  // (B, T, C)
  return y + dropout_(mlp(post_attention_layernorm(y)));
}

torch::Tensor Qwen3DecoderLayerImpl::forward_cached(const torch::Tensor& x, const torch::Tensor& cos,
                                                    const torch::Tensor& sin, const CacheStep& step,
                                                    int layer) {
  torch::Tensor y = x + self_attn->forward_cached(input_layernorm(x), cos, sin, step, layer);
  return y + mlp(post_attention_layernorm(y));  // (B, T, C)
}

Qwen3BodyImpl::Qwen3BodyImpl(const spec::ModelSpec& spec,
                             const std::vector<std::shared_ptr<attention::Attention>>& attentions) {
  embed_tokens =
      register_module("embed_tokens", torch::nn::Embedding(spec.vocab_size, spec.n_embd));
  layers = register_module("layers", torch::nn::ModuleList());
  for (const auto& attention : attentions) layers->push_back(Qwen3DecoderLayer(spec, attention));
  norm = register_module("norm", RmsNorm(spec.n_embd, spec.norm_eps));
}

Qwen3Impl::Qwen3Impl(const spec::ModelSpec& spec,
                     const std::vector<std::shared_ptr<attention::Attention>>& attentions)
    : CausalLm(spec) {
  model = register_module("model", Qwen3Body(spec, attentions));
  if (!spec.tie_embeddings)
    lm_head = register_module("lm_head", NoBias(spec.n_embd, spec.vocab_size));
  torch::NoGradGuard no_grad;
  for (auto& item : named_parameters()) {
    // Linear weights and the embedding; RMSNorm weights (1-D) stay ones.
    if (item.value().dim() >= 2) item.value().normal_(0.0, 0.02);
  }
}

torch::Tensor Qwen3Impl::forward(const torch::Tensor& idx) {
  // (B, T, V): x @ embed_tokens^T with the tied head.
  return torch::linear(forward_hidden(idx), lm_head_weight());
}

torch::Tensor Qwen3Impl::forward_hidden(const torch::Tensor& idx) {
  TORCH_CHECK(idx.dim() == 2, "Qwen3 expects token ids of shape (B, T), got ", idx.sizes());
  const int64_t T = idx.size(1);
  TORCH_CHECK(T <= block_size(), "sequence length ", T, " exceeds block_size ", block_size());
  const auto [cos, sin] = RopeTables(T, spec().head_dim, spec().rope_theta, idx.device());
  torch::Tensor x = model->embed_tokens(idx);  // (B, T, C)
  if (!PairsResidualAndNorm(x)) {
    for (const auto& layer : *model->layers) {
      x = layer->as<Qwen3DecoderLayerImpl>()->forward(x, cos, sin);
    }
    return model->norm(x);  // (B, T, C)
  }
  // The same layers with each residual add fused to the RMSNorm that reads the sum
  // (post_attention_layernorm, then the next layer's input_layernorm or model.norm);
  // the normalised activations come out in the dtype the next matmul computes in.
  const torch::Dtype compute = MatmulDtypeNow(x.device(), x.scalar_type());
  const auto& layers = *model->layers;
  const size_t L = layers.size();
  auto layer = [&](size_t i) -> Qwen3DecoderLayerImpl& { return *layers[i]->as<Qwen3DecoderLayerImpl>(); };
  torch::Tensor a = (L > 0 ? layer(0).input_layernorm : model->norm)(x).to(compute);  // (B, T, C)
  for (size_t i = 0; i < L; ++i) {
    const ResidualNormed mid = ResidualRmsNorm(x, layer(i).attention_delta(a, cos, sin),
                                               layer(i).post_attention_layernorm->weight,
                                               layer(i).post_attention_layernorm->eps(), compute);
    const RmsNorm& next = i + 1 < L ? layer(i + 1).input_layernorm : model->norm;
    const ResidualNormed out =
        ResidualRmsNorm(mid.sum, layer(i).mlp_delta(mid.normed), next->weight, next->eps(), compute);
    x = out.sum;
    a = out.normed;
  }
  return a;  // (B, T, C): model.norm of the residual stream
}

torch::Tensor Qwen3Impl::forward_cached(const torch::Tensor& idx, const CacheStep& step) {
  TORCH_CHECK(idx.dim() == 2 && idx.sizes() == step.positions.sizes(),
              "cached Qwen3 step expects token ids shaped like the positions ",
              step.positions.sizes(), ", got ", idx.sizes());
  const int64_t B = idx.size(0), T = idx.size(1), hd = spec().head_dim;
  const auto [cos_all, sin_all] =
      RopeTables(step.kv_len, hd, spec().rope_theta, idx.device());  // (S, hd)
  const torch::Tensor flat = step.positions.reshape({B * T});
  const torch::Tensor cos = cos_all.index_select(0, flat).view({B, 1, T, hd});
  const torch::Tensor sin = sin_all.index_select(0, flat).view({B, 1, T, hd});
  torch::Tensor x = model->embed_tokens(idx);  // (B, T, C)
  int layer = 0;
  for (const auto& l : *model->layers) {
    x = l->as<Qwen3DecoderLayerImpl>()->forward_cached(x, cos, sin, step, layer++);
  }
  x = model->norm(x);
  return lm_head ? lm_head(x) : torch::linear(x, model->embed_tokens->weight);  // (B, T, V)
}

std::vector<std::shared_ptr<attention::Attention>> Qwen3Impl::attentions() const {
  std::vector<std::shared_ptr<attention::Attention>> out;
  for (const auto& layer : *model->layers) {
    out.push_back(layer->as<Qwen3DecoderLayerImpl>()->self_attn->attention);
  }
  return out;
}

std::vector<torch::Tensor> Qwen3Impl::CapturedAttentionOutputs() const {
  std::vector<torch::Tensor> out;
  for (const auto& layer : *model->layers) {
    out.push_back(layer->as<Qwen3DecoderLayerImpl>()->self_attn->captured_output);
  }
  return out;
}

std::string Qwen3Impl::CanonicalHfName(std::string_view name) const {
  // RoPE frequencies some Qwen/Llama checkpoints carry; gwo recomputes them.
  if (name.ends_with(".rotary_emb.inv_freq")) return "";
  return std::string(name);
}

absl::StatusOr<Qwen3> MakeQwen3(const spec::ModelSpec& spec, const spec::AttentionSpec& attention,
                                int vocab_size) {
  absl::StatusOr<ModelParts> parts = PrepareModel("qwen3", spec, attention, vocab_size);
  if (!parts.ok()) return parts.status();
  return Qwen3(parts->resolved, parts->attentions);
}

}  // namespace gwo::models
