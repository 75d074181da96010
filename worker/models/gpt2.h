// GPT-2: token + learned position embeddings, pre-LayerNorm blocks (attention from
// gwo_attention between c_attn and c_proj; MLP of intermediate_size with tanh-GELU),
// a final LayerNorm and an LM head tied to the token embedding (or a separate
// lm_head without bias when tie_embeddings is false). Parameter names follow HF's
// `gpt2` checkpoints without the `transformer.` prefix: wte, wpe, h.{i}.ln_1,
// h.{i}.attn.c_attn, h.{i}.attn.c_proj, h.{i}.ln_2, h.{i}.mlp.c_fc, h.{i}.mlp.c_proj,
// ln_f. HF stores the four c_* weights as Conv1D, transposed (in, out).
#ifndef GWO_WORKER_MODELS_GPT2_H_
#define GWO_WORKER_MODELS_GPT2_H_

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "spec/run_spec.h"
#include "worker/attention/attention.h"
#include "worker/models/lora.h"
#include "worker/models/model.h"

namespace gwo::models {

struct CacheStep;  // kv_cache.h

// c_attn -> split heads -> attention variant -> merge heads -> c_proj.
class CausalSelfAttentionImpl : public AdaptableModule {
 public:
  CausalSelfAttentionImpl(const spec::ModelSpec& resolved,
                          std::shared_ptr<attention::Attention> attention);
  torch::Tensor forward(const torch::Tensor& x);  // (B, T, C) -> (B, T, C)
  // The same through the key/value cache of layer `layer` (kv_cache.h).
  torch::Tensor forward_cached(const torch::Tensor& x, const CacheStep& step, int layer);

  torch::nn::Linear c_attn{nullptr};  // C -> 3C (q, k, v)
  torch::nn::Linear c_proj{nullptr};  // C -> C
  std::shared_ptr<attention::Attention> attention;
  torch::Tensor captured_output;  // (B, T, C) of the last forward while attention captures

 private:
  int n_head_;
  torch::nn::Dropout resid_dropout_{nullptr};
};
TORCH_MODULE(CausalSelfAttention);

class MlpImpl : public AdaptableModule {
 public:
  explicit MlpImpl(const spec::ModelSpec& resolved);
  torch::Tensor forward(const torch::Tensor& x);  // (B, T, C) -> (B, T, C)

  torch::nn::Linear c_fc{nullptr};    // C -> I
  torch::nn::Linear c_proj{nullptr};  // I -> C

 private:
  torch::nn::Dropout dropout_{nullptr};
};
TORCH_MODULE(Mlp);

class BlockImpl : public torch::nn::Module {
 public:
  BlockImpl(const spec::ModelSpec& resolved, std::shared_ptr<attention::Attention> attention);
  // x + attn(ln_1(x)), then x + mlp(ln_2(x)).
  torch::Tensor forward(const torch::Tensor& x);  // (B, T, C) -> (B, T, C)
  torch::Tensor forward_cached(const torch::Tensor& x, const CacheStep& step, int layer);

  torch::nn::LayerNorm ln_1{nullptr};
  CausalSelfAttention attn{nullptr};
  torch::nn::LayerNorm ln_2{nullptr};
  Mlp mlp{nullptr};
};
TORCH_MODULE(Block);

class Gpt2Impl : public CausalLm {
 public:
  // `resolved`: see ResolveModelShape. `attentions` holds one variant per layer
  // (n_layer of them). Weights get GPT-2's init from the current torch seed:
  // normal(0, 0.02), biases 0, LayerNorm 1/0, and the residual projections (c_proj)
  // normal(0, 0.02 / sqrt(2 n_layer)).
  Gpt2Impl(const spec::ModelSpec& resolved,
           const std::vector<std::shared_ptr<attention::Attention>>& attentions);

  // idx: (B, T) int64 token ids with T <= block_size. Returns logits (B, T, V).
  torch::Tensor forward(const torch::Tensor& idx) override;
  torch::Tensor forward_hidden(const torch::Tensor& idx) override;  // (B, T, C) after ln_f
  torch::Tensor lm_head_weight() const override { return lm_head ? lm_head->weight : wte->weight; }
  // Incremental decoding (kv_cache.h): logits (B, T, V) of idx (B, T) at step's
  // positions, reading and extending step.cache.
  torch::Tensor forward_cached(const torch::Tensor& idx, const CacheStep& step);
  std::vector<std::shared_ptr<attention::Attention>> attentions() const override;
  std::vector<torch::Tensor> CapturedAttentionOutputs() const override;
  torch::Tensor token_embedding() const override { return wte->weight; }
  std::string CanonicalHfName(std::string_view file_name) const override;

  torch::nn::Embedding wte{nullptr};  // (V, C); also the LM head when tied
  torch::nn::Embedding wpe{nullptr};  // (block_size, C)
  torch::nn::ModuleList h{nullptr};   // n_layer Blocks
  torch::nn::LayerNorm ln_f{nullptr};
  torch::nn::Linear lm_head{nullptr};  // C -> V, only when not tied

 protected:
  HfTensor HfName(const std::string& torch_name, const torch::Tensor& tensor) const override;

 private:
  torch::nn::Dropout drop_{nullptr};
};
TORCH_MODULE(Gpt2);

// Builds a GPT-2 with attention from `attention` in every layer; vocab_size as in
// MakeModel. INVALID_ARGUMENT when spec.arch is not "gpt2", ResolveModelShape refuses
// the spec, or the attention kind is unknown.
absl::StatusOr<Gpt2> MakeGpt2(const spec::ModelSpec& spec, const spec::AttentionSpec& attention,
                              int vocab_size);

// ParameterCount (model_shape.h) of the resolved spec; -1 when it does not resolve.
// GPT-2 small (12 layers, 12 heads, 768 dims, 1024 positions, 50257 tokens): 124,439,808.
int64_t Gpt2ParameterCount(const spec::ModelSpec& spec, int vocab_size);

}  // namespace gwo::models

#endif  // GWO_WORKER_MODELS_GPT2_H_
