// The models gwo-train trains, behind one interface: a causal language model built
// from a ModelSpec (GPT-2 or Qwen3-style), loadable from and savable to HF-format
// checkpoints (config.json + model.safetensors with HF's tensor names).
#ifndef GWO_WORKER_MODELS_MODEL_H_
#define GWO_WORKER_MODELS_MODEL_H_

#include <torch/nn/module.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "spec/run_spec.h"
#include "worker/attention/attention.h"
#include "worker/models/hf_config.h"  // ModelSpecFromHfConfig

namespace gwo::models {

struct ParameterCounts {
  int64_t total = 0;      // every parameter, counted once
  int64_t trainable = 0;  // those with requires_grad
};
ParameterCounts CountParameters(const torch::nn::Module& module);

// A tensor of the model under its name in an HF checkpoint.
struct HfTensor {
  std::string name;         // e.g. "transformer.h.0.attn.c_attn.weight"
  torch::Tensor tensor;     // the model's parameter or buffer itself (shares storage)
  bool transposed = false;  // HF stores tensor.t() (GPT-2's Conv1D weights)
};

// How forward_hidden pairs each residual add with the norm after it: kAuto: through
// ResidualLayerNorm / ResidualRmsNorm (residual_layer_norm.h) where their fused kernels
// run (CUDA), block by block elsewhere; kAlways: through them everywhere (their LibTorch
// references off CUDA; the tests compare both); kNever: block by block.
enum class ResidualNormPath { kAuto, kAlways, kNever };

// A decoder-only language model. Subclasses: Gpt2Impl (gpt2.h), Qwen3Impl (qwen3.h).
class CausalLm : public torch::nn::Module {
 public:
  void set_residual_norm_path(ResidualNormPath path) { residual_norm_path_ = path; }

  // idx: (B, T) int64 token ids in [0, vocab_size) with T <= block_size.
  // Returns logits (B, T, vocab_size); position t depends only on idx[:, :t+1].
  // Throws c10::Error on bad shapes (gwo-train catches at its entry point).
  // Equals the LM head applied to forward_hidden(idx).
  virtual torch::Tensor forward(const torch::Tensor& idx) = 0;

  // What the LM head reads: the final-normalised hidden states (B, T, C) of idx (B, T).
  // forward(idx) == linear(forward_hidden(idx), lm_head_weight()); the training loss
  // takes this path so that the (B, T, V) logits need not exist at once
  // (trainer/lm_head_loss.h).
  virtual torch::Tensor forward_hidden(const torch::Tensor& idx) = 0;

  // The LM head's weight (V, C): the token embedding when tied, else lm_head's.
  virtual torch::Tensor lm_head_weight() const = 0;

  // The attention variant of each layer, in layer order.
  virtual std::vector<std::shared_ptr<attention::Attention>> attentions() const = 0;

  // While the attentions capture (Attention::set_capture on), each forward also keeps
  // the output of every layer's attention sublayer, after its output projection
  // (c_proj / o_proj) and before the residual add: (B, T, C) detached, in layer order.
  // Empty entries for layers that did not capture.
  virtual std::vector<torch::Tensor> CapturedAttentionOutputs() const = 0;

  // The token embedding (V, C); with tie_embeddings also the LM head.
  virtual torch::Tensor token_embedding() const = 0;

  // The spec the model was built from, with every default resolved (see
  // ResolveModelShape): vocab_size, head_dim, n_kv_head, intermediate_size, norm_eps.
  const spec::ModelSpec& spec() const { return spec_; }
  int vocab_size() const { return spec_.vocab_size; }
  int block_size() const { return spec_.block_size; }
  ParameterCounts parameter_counts() const { return CountParameters(*this); }

  // Every parameter and buffer, under its HF name, in the module's order. Tensors of
  // an attention variant (which HF does not know) get the name of their place in the
  // tree, e.g. "model.layers.0.self_attn.attention.temperature".
  std::vector<HfTensor> HfTensors() const;

  // The name a tensor called `file_name` in an HF file has in HfTensors(), or "" when
  // the loader should skip it (buffers HF also ignores, e.g. GPT-2's "h.0.attn.bias"
  // causal masks). GPT-2 accepts names without the "transformer." prefix (the
  // original `gpt2` checkpoint).
  virtual std::string CanonicalHfName(std::string_view file_name) const {
    return std::string(file_name);
  }

 protected:
  explicit CausalLm(const spec::ModelSpec& resolved) : spec_(resolved) {}
  // Whether forward_hidden takes the paired path for the residual stream x (B, T, C).
  bool PairsResidualAndNorm(const torch::Tensor& x) const;
  // The HF name of the parameter or buffer `torch_name` (as in named_parameters())
  // and whether HF stores it transposed.
  virtual HfTensor HfName(const std::string& torch_name, const torch::Tensor& tensor) const = 0;

 private:
  spec::ModelSpec spec_;
  ResidualNormPath residual_norm_path_ = ResidualNormPath::kAuto;
};

// Builds the model spec.arch names ("gpt2" or "qwen3") with attention `attention` in
// every layer, randomly initialised from the current torch seed, on CPU, in training
// mode. `vocab_size` is the tokenizer's vocabulary; the model has spec.vocab_size
// rows when that is set (it must then be >= vocab_size). INVALID_ARGUMENT for a spec
// ResolveModelShape refuses or an unknown attention kind.
absl::StatusOr<std::shared_ptr<CausalLm>> MakeModel(const spec::ModelSpec& spec,
                                                    const spec::AttentionSpec& attention,
                                                    int vocab_size);

// What every arch's Make* function starts from: `spec` resolved (ResolveModelShape)
// and one attention variant per layer, with dims (n_head, head_dim, block_size,
// dropout). INVALID_ARGUMENT when spec.arch is not `arch`, the shape does not resolve
// or the attention kind is unknown. For the model files.
struct ModelParts {
  spec::ModelSpec resolved;
  std::vector<std::shared_ptr<attention::Attention>> attentions;
};
absl::StatusOr<ModelParts> PrepareModel(const std::string& arch, const spec::ModelSpec& spec,
                                        const spec::AttentionSpec& attention, int vocab_size);

// Copies weights from an HF checkpoint into `model` (on whatever device and dtype its
// parameters have; F16/BF16/F32 are converted). `path` is an HF model directory
// (model.safetensors, or the shards of model.safetensors.index.json; its config.json,
// when present, must describe the same shape as model.spec()) or a .safetensors file.
// Every tensor of model.HfTensors() must be present with its shape; tensors of the
// file that the model lacks are errors too (except those CanonicalHfName skips, and a
// tied "lm_head.weight" equal to the embedding). Nothing is copied unless all fit.
// NOT_FOUND: no such file or no model.safetensors in the directory. DATA_LOSS: a
// corrupt file (see SafetensorsFile::Open) or a gwo_checksum mismatch.
// INVALID_ARGUMENT: config.json disagrees with the model, or tensors are missing,
// unexpected or mis-shaped; the message names each (up to 10 of each kind).
// Exception: tensors of an attention variant's own module (IsAttentionVariantTensor)
// that the file lacks keep their initial values, so that a variant with parameters
// (e.g. `factorized`) starts from a baseline's checkpoint; their HF names are appended
// to `kept_initial` when it is given.
absl::Status LoadWeights(CausalLm& model, const std::string& path,
                         std::vector<std::string>* kept_initial = nullptr);

// Whether `name` (an HF name of HfTensors() or a named_parameters() name) belongs to
// the module of an attention variant (".attention." in the name), i.e. a tensor that
// HF and a baseline checkpoint do not have.
bool IsAttentionVariantTensor(std::string_view name);

// Writes `dir`/model.safetensors (HF names and layouts, the parameters' dtype, and
// __metadata__ {format: "pt", gwo_format: "1", gwo_run_spec: RunSpecToYaml(run),
// gwo_checksum}) and then `dir`/config.json (HF GPT2Config / Qwen3Config), each
// atomically; creates `dir`. The result loads with transformers'
// AutoModelForCausalLM.from_pretrained(dir) and with LoadWeights. INTERNAL on I/O
// errors.
absl::Status SaveHfCheckpoint(const CausalLm& model, const spec::RunSpec& run,
                              const std::string& dir);

}  // namespace gwo::models

#endif  // GWO_WORKER_MODELS_MODEL_H_
