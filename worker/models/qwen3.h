// Qwen3-style decoder, as HF's Qwen3ForCausalLM: token embedding; per layer
// x + attn(input_layernorm(x)), then x + mlp(post_attention_layernorm(x)), where attn
// projects q/k/v without biases, RMS-normalises each head of q and k (q_norm, k_norm
// over head_dim), rotates them with RoPE (HF's rotate_half convention, base
// rope_theta), runs the attention variant with k/v heads repeated for grouped-query
// attention (n_kv_head < n_head), and projects back with o_proj; the MLP is
// down_proj(silu(gate_proj(x)) * up_proj(x)); a final RMSNorm; an LM head tied to the
// embedding or not. Module names equal HF's tensor names: model.embed_tokens,
// model.layers.{i}.{input_layernorm, self_attn.{q,k,v,o}_proj, self_attn.{q,k}_norm,
// post_attention_layernorm, mlp.{gate,up,down}_proj}, model.norm, lm_head.
#ifndef GWO_WORKER_MODELS_QWEN3_H_
#define GWO_WORKER_MODELS_QWEN3_H_

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>

#include <cstdint>
#include <memory>
#include <utility>

#include "absl/status/statusor.h"
#include "spec/run_spec.h"
#include "worker/attention/attention.h"
#include "worker/models/lora.h"
#include "worker/models/model.h"

namespace gwo::models {

struct CacheStep;  // kv_cache.h

// weight * x / sqrt(mean(x^2) + eps) over the last dimension, computed in float32
// (HF's Qwen3RMSNorm). weight starts at ones.
class RmsNormImpl : public torch::nn::Module {
 public:
  RmsNormImpl(int64_t dim, double eps);
  torch::Tensor forward(const torch::Tensor& x);  // (..., dim) -> (..., dim)
  double eps() const { return eps_; }

  torch::Tensor weight;  // (dim)

 private:
  double eps_;
};
TORCH_MODULE(RmsNorm);

// RoPE tables for positions 0..T-1: cos and sin, each (T, head_dim) float32 on
// `device`, with frequencies theta^(-2i/head_dim) repeated for both halves
// (emb = cat(freqs, freqs) in HF).
std::pair<torch::Tensor, torch::Tensor> RopeTables(int64_t T, int64_t head_dim, double theta,
                                                   const torch::Device& device);

// x * cos + rotate_half(x) * sin, rotate_half(x) = cat(-x[..., hd/2:], x[..., :hd/2]).
// x: (B, nh, T, hd); cos, sin: (T, hd) (cast to x's dtype). Returns (B, nh, T, hd).
torch::Tensor ApplyRope(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin);

// (B, n_kv, T, hd) -> (B, n_kv * n_rep, T, hd): each k/v head serves n_rep consecutive
// query heads (HF's repeat_kv).
torch::Tensor RepeatKv(const torch::Tensor& x, int64_t n_rep);

class Qwen3AttentionImpl : public AdaptableModule {
 public:
  Qwen3AttentionImpl(const spec::ModelSpec& resolved,
                     std::shared_ptr<attention::Attention> attention);
  // x: (B, T, C); cos, sin: RopeTables for T. Returns (B, T, C).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin);
  // The same through the key/value cache of layer `layer` (kv_cache.h); cos, sin:
  // (B, 1, T, hd), the RoPE rows of step.positions.
  torch::Tensor forward_cached(const torch::Tensor& x, const torch::Tensor& cos,
                               const torch::Tensor& sin, const CacheStep& step, int layer);

  torch::nn::Linear q_proj{nullptr};  // C -> H * hd
  torch::nn::Linear k_proj{nullptr};  // C -> K * hd
  torch::nn::Linear v_proj{nullptr};  // C -> K * hd
  torch::nn::Linear o_proj{nullptr};  // H * hd -> C
  RmsNorm q_norm{nullptr};            // over hd
  RmsNorm k_norm{nullptr};            // over hd
  std::shared_ptr<attention::Attention> attention;
  torch::Tensor captured_output;  // (B, T, C) of the last forward while attention captures

 private:
  int64_t n_head_, n_kv_head_, head_dim_;
};
TORCH_MODULE(Qwen3Attention);

class Qwen3MlpImpl : public AdaptableModule {
 public:
  explicit Qwen3MlpImpl(const spec::ModelSpec& resolved);
  torch::Tensor forward(const torch::Tensor& x);  // (B, T, C) -> (B, T, C)

  torch::nn::Linear gate_proj{nullptr};  // C -> I
  torch::nn::Linear up_proj{nullptr};    // C -> I
  torch::nn::Linear down_proj{nullptr};  // I -> C
};
TORCH_MODULE(Qwen3Mlp);

class Qwen3DecoderLayerImpl : public torch::nn::Module {
 public:
  Qwen3DecoderLayerImpl(const spec::ModelSpec& resolved,
                        std::shared_ptr<attention::Attention> attention);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos,
                        const torch::Tensor& sin);  // (B, T, C) -> (B, T, C)
  torch::Tensor forward_cached(const torch::Tensor& x, const torch::Tensor& cos,
                               const torch::Tensor& sin, const CacheStep& step, int layer);
  // What each branch adds to the residual stream, from its normalised input a (B, T, C):
  // forward(x) == y + mlp_delta(post_attention_layernorm(y)) with
  // y = x + attention_delta(input_layernorm(x), cos, sin).
  torch::Tensor attention_delta(const torch::Tensor& a, const torch::Tensor& cos, const torch::Tensor& sin);
  torch::Tensor mlp_delta(const torch::Tensor& a);

  RmsNorm input_layernorm{nullptr};
  Qwen3Attention self_attn{nullptr};
  RmsNorm post_attention_layernorm{nullptr};
  Qwen3Mlp mlp{nullptr};

 private:
  torch::nn::Dropout dropout_{nullptr};  // on both residual branches
};
TORCH_MODULE(Qwen3DecoderLayer);

// HF's Qwen3Model: the part under the "model." prefix.
class Qwen3BodyImpl : public torch::nn::Module {
 public:
  Qwen3BodyImpl(const spec::ModelSpec& resolved,
                const std::vector<std::shared_ptr<attention::Attention>>& attentions);

  torch::nn::Embedding embed_tokens{nullptr};  // (V, C)
  torch::nn::ModuleList layers{nullptr};       // n_layer Qwen3DecoderLayers
  RmsNorm norm{nullptr};
};
TORCH_MODULE(Qwen3Body);

class Qwen3Impl : public CausalLm {
 public:
  // `resolved`: see ResolveModelShape; one attention variant per layer. Init as HF's:
  // Linear weights and the embedding normal(0, 0.02), RMSNorm weights 1.
  Qwen3Impl(const spec::ModelSpec& resolved,
            const std::vector<std::shared_ptr<attention::Attention>>& attentions);

  // idx: (B, T) int64 with T <= block_size. Returns logits (B, T, V).
  torch::Tensor forward(const torch::Tensor& idx) override;
  torch::Tensor forward_hidden(const torch::Tensor& idx) override;  // (B, T, C) after model.norm
  torch::Tensor lm_head_weight() const override {
    return lm_head ? lm_head->weight : model->embed_tokens->weight;
  }
  // Incremental decoding (kv_cache.h): logits (B, T, V) of idx (B, T) at step's
  // positions, reading and extending step.cache.
  torch::Tensor forward_cached(const torch::Tensor& idx, const CacheStep& step);
  std::vector<std::shared_ptr<attention::Attention>> attentions() const override;
  std::vector<torch::Tensor> CapturedAttentionOutputs() const override;
  torch::Tensor token_embedding() const override { return model->embed_tokens->weight; }
  std::string CanonicalHfName(std::string_view file_name) const override;

  Qwen3Body model{nullptr};
  torch::nn::Linear lm_head{nullptr};  // C -> V without bias; only when not tied

 protected:
  HfTensor HfName(const std::string& torch_name, const torch::Tensor& tensor) const override {
    return {torch_name, tensor, false};
  }
};
TORCH_MODULE(Qwen3);

// Builds a Qwen3-style model; vocab_size as in MakeModel. INVALID_ARGUMENT when
// spec.arch is not "qwen3", ResolveModelShape refuses the spec, or the attention kind
// is unknown.
absl::StatusOr<Qwen3> MakeQwen3(const spec::ModelSpec& spec, const spec::AttentionSpec& attention,
                                int vocab_size);

}  // namespace gwo::models

#endif  // GWO_WORKER_MODELS_QWEN3_H_
