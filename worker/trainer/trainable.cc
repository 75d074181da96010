#include "worker/trainer/trainable.h"

#include <fnmatch.h>

#include <torch/torch.h>

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "worker/models/lora.h"

namespace gwo::trainer {
namespace {

bool Matches(const std::vector<std::string>& patterns, const std::string& name) {
  for (const std::string& p : patterns) {
    if (fnmatch(p.c_str(), name.c_str(), 0) == 0) return true;
  }
  return false;
}

// The first pattern that matches none of `names`, or "".
std::string UnmatchedPattern(const std::vector<std::string>& patterns,
                             const std::vector<std::string>& names) {
  for (const std::string& p : patterns) {
    bool any = false;
    for (const std::string& n : names) any = any || fnmatch(p.c_str(), n.c_str(), 0) == 0;
    if (!any) return p;
  }
  return "";
}

}  // namespace

bool IsKvProjection(const std::string& arch, const std::string& name) {
  if (arch != "qwen3") return false;
  return absl::StrContains(name, ".self_attn.k_proj.") || absl::StrContains(name, ".self_attn.v_proj.");
}

void TrainableSetup::Capture() {
  torch::NoGradGuard no_grad;
  for (FrozenRows& f : frozen_rows) f.saved = f.param.narrow(0, f.begin, f.count).detach().clone();
}

void TrainableSetup::Restore() const {
  torch::NoGradGuard no_grad;
  for (const FrozenRows& f : frozen_rows) f.param.narrow(0, f.begin, f.count).copy_(f.saved);
}

absl::StatusOr<TrainableSetup> ApplyTrainable(models::CausalLm& model, const spec::TrainableSpec& spec) {
  TrainableSetup setup;
  const std::string& arch = model.spec().arch;
  if (spec.mode == "lora") {
    absl::StatusOr<std::vector<std::string>> attached = models::AttachLora(model, spec.lora);
    if (!attached.ok()) return attached.status();
    setup.lora_modules = *std::move(attached);
  }
  std::vector<std::string> names;
  for (const auto& item : model.named_parameters()) names.push_back(item.key());
  for (const auto* patterns : {&spec.train, &spec.freeze}) {
    if (std::string p = UnmatchedPattern(*patterns, names); !p.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "training.trainable pattern \"", p, "\" matches no parameter; parameters are named like ",
          absl::StrJoin(names.begin(), names.begin() + std::min<size_t>(names.size(), 6), ", ")));
    }
  }
  const int64_t C = model.spec().n_embd;
  for (auto& item : model.named_parameters()) {
    const std::string& name = item.key();
    torch::Tensor& p = item.value();
    bool train = true;
    bool gpt2_qkv = false;  // GPT-2's fused c_attn: only its K and V rows train
    if (spec.mode == "lora") {
      train = absl::StrContains(name, "_lora.");
    } else if (spec.mode == "kv_only") {
      gpt2_qkv = arch == "gpt2" && absl::StrContains(name, ".attn.c_attn.");
      train = gpt2_qkv || IsKvProjection(arch, name);
    }
    if (spec.mode == "full" && !spec.train.empty()) train = Matches(spec.train, name);
    if (spec.mode != "full" && Matches(spec.train, name)) {
      train = true;
      gpt2_qkv = false;  // named explicitly: the whole tensor trains
    }
    if (Matches(spec.freeze, name)) train = false;
    p.requires_grad_(train);
    setup.total += p.numel();
    if (!train) continue;
    setup.trainable += p.numel();
    if (gpt2_qkv) {
      // c_attn's output rows are [q (C) | k (C) | v (C)]: weight (3C, C), bias (3C).
      setup.frozen_rows.push_back({.param = p, .begin = 0, .count = C});
      setup.trainable -= p.numel() / 3;
      p.register_hook([C](torch::Tensor grad) {
        grad = grad.clone();
        grad.narrow(0, 0, C).zero_();
        return grad;
      });
    }
  }
  if (setup.trainable == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("training.trainable (mode ", spec.mode, ") leaves no parameter to train"));
  }
  setup.Capture();
  return setup;
}

}  // namespace gwo::trainer
