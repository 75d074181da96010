// Low-rank adapters (LoRA) on a model's Linear layers: y = W x + b + (alpha / r) B A drop(x),
// A (r, in) drawn like nn.Linear's weight, B (out, r) zero, so an adapted model starts
// out computing exactly what its base computes. The modules that own projections
// derive from AdaptableModule and call Project() instead of the Linear directly.
#ifndef GWO_WORKER_MODELS_LORA_H_
#define GWO_WORKER_MODELS_LORA_H_

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "spec/training_modes.h"

namespace gwo::models {

class CausalLm;

class LoraAdapterImpl : public torch::nn::Module {
 public:
  // Parameters on `options`' device and dtype; A from the current torch seed.
  LoraAdapterImpl(int64_t in, int64_t out, const spec::LoraSpec& spec,
                  const torch::TensorOptions& options);
  // (..., in) -> (..., out): scale * drop(x) A^T B^T.
  torch::Tensor forward(const torch::Tensor& x);
  // (out, in): scale * B A, what the adapter adds to the base weight.
  torch::Tensor Delta() const;

  torch::Tensor A;  // (r, in)
  torch::Tensor B;  // (out, r)

 private:
  double scale_;    // alpha / r
  double dropout_;
};
TORCH_MODULE(LoraAdapter);

// A module whose Linear children may carry adapters (registered as children named
// "<linear>_lora", so their parameters are e.g. "h.0.attn.c_attn_lora.A").
class AdaptableModule : public torch::nn::Module {
 public:
  // Adds an adapter beside Linear child `name` (replacing none; a second call for
  // the same name is an error the caller prevents).
  void AttachLora(const std::string& name, const spec::LoraSpec& spec);
  // The adapters, by Linear child name.
  const std::map<std::string, LoraAdapter>& adapters() const { return adapters_; }

 protected:
  // linear(x), plus the adapter of `name` when it has one. x (..., in) -> (..., out).
  torch::Tensor Project(const std::string& name, torch::nn::Linear& linear, const torch::Tensor& x);

 private:
  std::map<std::string, LoraAdapter> adapters_;
};

// The targets used when LoraSpec::targets is empty: the attention projections of
// `arch` (gpt2: c_attn, attn.c_proj; qwen3: q_proj, k_proj, v_proj, o_proj).
std::vector<std::string> DefaultLoraTargets(const std::string& arch);

// Attaches an adapter to every Linear of `model` whose module path ends with one of
// the targets ("c_proj" matches "h.0.attn.c_proj" and "h.0.mlp.c_proj"; "attn.c_proj"
// only the first) and returns their module paths. INVALID_ARGUMENT when a target
// matches no adaptable Linear (the message lists the candidates).
absl::StatusOr<std::vector<std::string>> AttachLora(CausalLm& model, const spec::LoraSpec& spec);

// The model's parameters with every adapter folded into its base weight
// (W + scale B A) and the adapter tensors left out: the names and shapes of the
// same model without adapters. Detached copies for the adapted weights.
std::vector<std::pair<std::string, torch::Tensor>> MergedParameters(const torch::nn::Module& model);

}  // namespace gwo::models

#endif  // GWO_WORKER_MODELS_LORA_H_
