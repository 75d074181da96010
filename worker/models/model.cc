#include "worker/models/model.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "worker/attention/registry.h"
#include "worker/models/gpt2.h"
#include "worker/models/model_shape.h"
#include "worker/models/qwen3.h"
#include "worker/models/residual_layer_norm.h"

namespace gwo::models {

ParameterCounts CountParameters(const torch::nn::Module& module) {
  ParameterCounts counts;
  for (const torch::Tensor& p : module.parameters()) {
    counts.total += p.numel();
    if (p.requires_grad()) counts.trainable += p.numel();
  }
  return counts;
}

bool CausalLm::PairsResidualAndNorm(const torch::Tensor& x) const {
  return residual_norm_path_ == ResidualNormPath::kAlways ||
         (residual_norm_path_ == ResidualNormPath::kAuto && FusedResidualLayerNormRuns(x, x));
}

std::vector<HfTensor> CausalLm::HfTensors() const {
  std::vector<HfTensor> out;
  for (const auto& item : named_parameters()) out.push_back(HfName(item.key(), item.value()));
  for (const auto& item : named_buffers()) out.push_back(HfName(item.key(), item.value()));
  return out;
}

absl::StatusOr<ModelParts> PrepareModel(const std::string& arch, const spec::ModelSpec& spec,
                                        const spec::AttentionSpec& attention, int vocab_size) {
  if (spec.arch != arch) {
    return absl::InvalidArgumentError(absl::StrCat("model arch '", spec.arch, "' is not ", arch));
  }
  absl::StatusOr<spec::ModelSpec> resolved = ResolveModelShape(spec, vocab_size);
  if (!resolved.ok()) return resolved.status();
  ModelParts parts{.resolved = *std::move(resolved)};
  const attention::AttentionDims dims{.n_head = parts.resolved.n_head,
                                      .head_dim = parts.resolved.head_dim,
                                      .block_size = parts.resolved.block_size,
                                      .dropout = parts.resolved.dropout};
  for (int i = 0; i < parts.resolved.n_layer; ++i) {
    absl::StatusOr<std::shared_ptr<attention::Attention>> made =
        attention::MakeAttention(attention, dims);
    if (!made.ok()) return made.status();
    parts.attentions.push_back(*std::move(made));
  }
  return parts;
}

absl::StatusOr<std::shared_ptr<CausalLm>> MakeModel(const spec::ModelSpec& spec,
                                                    const spec::AttentionSpec& attention,
                                                    int vocab_size) {
  if (spec.arch == "gpt2") {
    absl::StatusOr<Gpt2> made = MakeGpt2(spec, attention, vocab_size);
    if (!made.ok()) return made.status();
    return std::shared_ptr<CausalLm>(made->ptr());
  }
  if (spec.arch == "qwen3") {
    absl::StatusOr<Qwen3> made = MakeQwen3(spec, attention, vocab_size);
    if (!made.ok()) return made.status();
    return std::shared_ptr<CausalLm>(made->ptr());
  }
  return absl::InvalidArgumentError(
      absl::StrCat("model arch '", spec.arch, "' is not one of gpt2, qwen3"));
}

}  // namespace gwo::models
