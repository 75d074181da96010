// GPT-2: token + learned position embeddings, pre-LayerNorm blocks (attention from
// gwo_attention between c_attn and c_proj; MLP 4C with tanh-GELU), a final LayerNorm
// and an LM head tied to the token embedding. Parameter names follow HF's `gpt2`
// checkpoints without the `transformer.` prefix: wte, wpe, h.{i}.ln_1, h.{i}.attn.c_attn,
// h.{i}.attn.c_proj, h.{i}.ln_2, h.{i}.mlp.c_fc, h.{i}.mlp.c_proj, ln_f.
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

namespace gwo::models {

// c_attn -> split heads -> attention variant -> merge heads -> c_proj.
class CausalSelfAttentionImpl : public torch::nn::Module {
 public:
  CausalSelfAttentionImpl(const spec::ModelSpec& spec,
                          std::shared_ptr<attention::Attention> attention);
  torch::Tensor forward(const torch::Tensor& x);  // (B, T, C) -> (B, T, C)

  torch::nn::Linear c_attn{nullptr};  // C -> 3C (q, k, v)
  torch::nn::Linear c_proj{nullptr};  // C -> C
  std::shared_ptr<attention::Attention> attention;

 private:
  int n_head_;
  torch::nn::Dropout resid_dropout_{nullptr};
};
TORCH_MODULE(CausalSelfAttention);

class MlpImpl : public torch::nn::Module {
 public:
  explicit MlpImpl(const spec::ModelSpec& spec);
  torch::Tensor forward(const torch::Tensor& x);  // (B, T, C) -> (B, T, C)

  torch::nn::Linear c_fc{nullptr};    // C -> 4C
  torch::nn::Linear c_proj{nullptr};  // 4C -> C

 private:
  torch::nn::Dropout dropout_{nullptr};
};
TORCH_MODULE(Mlp);

class BlockImpl : public torch::nn::Module {
 public:
  BlockImpl(const spec::ModelSpec& spec, std::shared_ptr<attention::Attention> attention);
  // x + attn(ln_1(x)), then x + mlp(ln_2(x)).
  torch::Tensor forward(const torch::Tensor& x);  // (B, T, C) -> (B, T, C)

  torch::nn::LayerNorm ln_1{nullptr};
  CausalSelfAttention attn{nullptr};
  torch::nn::LayerNorm ln_2{nullptr};
  Mlp mlp{nullptr};
};
TORCH_MODULE(Block);

class Gpt2Impl : public torch::nn::Module {
 public:
  // `attentions` holds one variant per layer (spec.n_layer of them). Weights get
  // GPT-2's init from the current torch seed: normal(0, 0.02), biases 0, LayerNorm
  // 1/0, and the residual projections (c_proj) normal(0, 0.02 / sqrt(2 n_layer)).
  Gpt2Impl(const spec::ModelSpec& spec, int vocab_size,
           const std::vector<std::shared_ptr<attention::Attention>>& attentions);

  // idx: (B, T) int64 token ids with T <= block_size. Returns logits (B, T, V).
  torch::Tensor forward(const torch::Tensor& idx);

  int vocab_size() const { return vocab_size_; }
  int block_size() const { return spec_.block_size; }
  const spec::ModelSpec& spec() const { return spec_; }
  // The attention variant of each layer.
  std::vector<std::shared_ptr<attention::Attention>> attentions() const;

  torch::nn::Embedding wte{nullptr};  // (V, C); also the LM head
  torch::nn::Embedding wpe{nullptr};  // (block_size, C)
  torch::nn::ModuleList h{nullptr};   // n_layer Blocks
  torch::nn::LayerNorm ln_f{nullptr};

 private:
  spec::ModelSpec spec_;
  int vocab_size_;
  torch::nn::Dropout drop_{nullptr};
};
TORCH_MODULE(Gpt2);

// Builds a GPT-2 with attention from `attention` in every layer. INVALID_ARGUMENT
// when spec.arch is not "gpt2", sizes are not positive, n_head does not divide
// n_embd, dropout is outside [0, 1), or the attention kind is unknown.
absl::StatusOr<Gpt2> MakeGpt2(const spec::ModelSpec& spec, const spec::AttentionSpec& attention,
                              int vocab_size);

// Parameters of a GPT-2 with standard attention, in closed form:
// V*C + block_size*C + n_layer*(12*C^2 + 13*C) + 2*C (the tied head adds nothing).
int64_t Gpt2ParameterCount(const spec::ModelSpec& spec, int vocab_size);

struct ParameterCounts {
  int64_t total = 0;      // every parameter, counted once
  int64_t trainable = 0;  // those with requires_grad
};
ParameterCounts CountParameters(const torch::nn::Module& module);

}  // namespace gwo::models

#endif  // GWO_WORKER_MODELS_GPT2_H_
