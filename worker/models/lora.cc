#include "worker/models/lora.h"

#include <torch/nn/functional/dropout.h>
#include <torch/nn/init.h>

#include <cmath>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "worker/models/model.h"

namespace gwo::models {

LoraAdapterImpl::LoraAdapterImpl(int64_t in, int64_t out, const spec::LoraSpec& spec,
                                 const torch::TensorOptions& options)
    : scale_(spec.alpha / spec.rank), dropout_(spec.dropout) {
  A = register_parameter("A", torch::empty({spec.rank, in}, options));
  B = register_parameter("B", torch::zeros({out, spec.rank}, options));
  torch::NoGradGuard no_grad;
  // As nn.Linear (and PEFT) initialise a weight: kaiming_uniform_(a=sqrt(5)).
  torch::nn::init::kaiming_uniform_(A, std::sqrt(5.0));
}

torch::Tensor LoraAdapterImpl::forward(const torch::Tensor& x) {
  const torch::Tensor dropped = torch::dropout(x, dropout_, is_training());  // (..., in)
  return torch::matmul(torch::matmul(dropped, A.t()), B.t()) * scale_;      // (..., out)
}

torch::Tensor LoraAdapterImpl::Delta() const { return torch::matmul(B, A) * scale_; }

void AdaptableModule::AttachLora(const std::string& name, const spec::LoraSpec& spec) {
  auto linear = named_children()[name]->as<torch::nn::LinearImpl>();
  TORCH_CHECK(linear != nullptr, name, " is not a Linear");
  const int64_t out = linear->weight.size(0), in = linear->weight.size(1);
  adapters_.emplace(name, register_module(name + "_lora",
                                          LoraAdapter(in, out, spec, linear->weight.options())));
}

torch::Tensor AdaptableModule::Project(const std::string& name, torch::nn::Linear& linear,
                                       const torch::Tensor& x) {
  if (adapters_.empty()) return linear(x);
  auto it = adapters_.find(name);
  return it == adapters_.end() ? linear(x) : linear(x) + it->second(x);
}

std::vector<std::string> DefaultLoraTargets(const std::string& arch) {
  if (arch == "qwen3") return {"q_proj", "k_proj", "v_proj", "o_proj"};
  return {"c_attn", "attn.c_proj"};
}

namespace {

std::string Join(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : absl::StrCat(prefix, ".", name);
}

bool PathMatches(const std::string& path, const std::string& target) {
  return path == target || absl::EndsWith(path, absl::StrCat(".", target));
}

}  // namespace

absl::StatusOr<std::vector<std::string>> AttachLora(CausalLm& model, const spec::LoraSpec& spec) {
  const std::vector<std::string> targets =
      spec.targets.empty() ? DefaultLoraTargets(model.spec().arch) : spec.targets;
  // (owner, child name, path) of every Linear inside an AdaptableModule.
  struct Candidate {
    AdaptableModule* owner;
    std::string child;
    std::string path;
  };
  std::vector<Candidate> candidates;
  for (const auto& item : model.named_modules("", /*include_self=*/false)) {
    auto* owner = dynamic_cast<AdaptableModule*>(item.value().get());
    if (owner == nullptr) continue;
    for (const auto& child : owner->named_children()) {
      if (child.value()->as<torch::nn::LinearImpl>() == nullptr) continue;
      candidates.push_back({owner, child.key(), Join(item.key(), child.key())});
    }
  }
  std::vector<std::string> attached;
  std::vector<std::string> unmatched;
  for (const std::string& target : targets) {
    bool any = false;
    for (const Candidate& c : candidates) {
      if (!PathMatches(c.path, target)) continue;
      any = true;
      if (c.owner->adapters().count(c.child) != 0) continue;  // two targets, one Linear
      c.owner->AttachLora(c.child, spec);
      attached.push_back(c.path);
    }
    if (!any) unmatched.push_back(target);
  }
  if (!unmatched.empty()) {
    std::set<std::string> names;
    for (const Candidate& c : candidates) {
      // Show the per-layer names once ("h.3.attn.c_attn" -> "attn.c_attn").
      const size_t dot = c.path.find('.', c.path.find('.') + 1);
      names.insert(dot == std::string::npos ? c.path : c.path.substr(dot + 1));
    }
    return absl::InvalidArgumentError(
        absl::StrCat("LoRA targets match no Linear layer: ", absl::StrJoin(unmatched, ", "),
                     "; layers of this model: ", absl::StrJoin(names, ", ")));
  }
  return attached;
}

std::vector<std::pair<std::string, torch::Tensor>> MergedParameters(const torch::nn::Module& model) {
  std::map<std::string, torch::Tensor> merged;  // weight name -> W + delta
  torch::NoGradGuard no_grad;
  for (const auto& item : model.named_modules("", /*include_self=*/true)) {
    const auto* owner = dynamic_cast<const AdaptableModule*>(item.value().get());
    if (owner == nullptr) continue;
    for (const auto& [name, adapter] : owner->adapters()) {
      const auto linear = owner->named_children()[name]->as<torch::nn::LinearImpl>();
      merged[Join(item.key(), name + ".weight")] = linear->weight.detach() + adapter->Delta();
    }
  }
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& item : model.named_parameters()) {
    if (absl::StrContains(item.key(), "_lora.")) continue;
    auto it = merged.find(item.key());
    out.emplace_back(item.key(), it == merged.end() ? item.value() : it->second);
  }
  return out;
}

}  // namespace gwo::models
