#include "worker/trainer/model_setup.h"

#include <torch/torch.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "worker/models/hf_config.h"
#include "worker/models/lora.h"
#include "worker/trainer/checkpoint.h"

namespace gwo::trainer {
namespace {

void Log(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

// Loads `spec.model.init` (unless "scratch") into `model`.
absl::Status LoadInitialWeights(const spec::RunSpec& spec, models::CausalLm& model) {
  const std::string& init = spec.model.init;
  if (init.empty() || init == "scratch") return absl::OkStatus();
  // Tensors of the attention variant that the checkpoint lacks (a variant with its own
  // parameters started from a baseline) keep their initial values; any other missing
  // tensor is an error.
  std::vector<std::string> kept;
  if (absl::EndsWith(init, ".ckpt")) {
    absl::StatusOr<LoadedCheckpoint> loaded = LoadCheckpoint(init);
    if (!loaded.ok()) return loaded.status();
    const std::vector<std::string> differences =
        models::ShapeDifferences(loaded->model->spec(), model.spec());
    if (!differences.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("model.init ", init, " has another shape: ",
                                                     absl::StrJoin(differences, "; ")));
    }
    torch::NoGradGuard no_grad;
    auto source = loaded->model->named_parameters();
    for (auto& p : model.named_parameters()) {
      const torch::Tensor* from = source.find(p.key());
      if (from == nullptr) {
        if (models::IsAttentionVariantTensor(p.key())) {
          kept.push_back(p.key());
          continue;
        }
        return absl::InvalidArgumentError(absl::StrCat("model.init ", init, " lacks ", p.key()));
      }
      if (!from->sizes().equals(p.value().sizes())) {
        return absl::InvalidArgumentError(absl::StrCat("model.init ", init, ": ", p.key(), " is [",
                                                       absl::StrJoin(from->sizes(), ", "),
                                                       "], the model expects [",
                                                       absl::StrJoin(p.value().sizes(), ", "), "]"));
      }
      p.value().copy_(*from);
    }
  } else if (absl::Status s = models::LoadWeights(model, init, &kept); !s.ok()) {
    return s;
  }
  Log(absl::StrCat("initial weights from ", init));
  if (!kept.empty()) {
    Log(absl::StrCat("model.init: ", kept.size(), " attention-variant tensors not in ", init,
                     " keep their initial values (", kept.front(),
                     kept.size() > 1 ? ", ..." : "", ")"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<models::CausalLm>> BuildModel(const spec::RunSpec& spec,
                                                             const spec::AttentionSpec& attention,
                                                             int vocab_size,
                                                             const torch::Device& device) {
  absl::StatusOr<std::shared_ptr<models::CausalLm>> built =
      models::MakeModel(spec.model, attention, vocab_size);
  if (!built.ok()) return built.status();
  std::shared_ptr<models::CausalLm> model = *std::move(built);
  for (const auto& a : model->attentions()) {
    if (auto why = a->Unsupported(device, torch::kFloat32, spec.model.block_size)) {
      return absl::InvalidArgumentError(
          absl::StrCat("attention '", attention.kind, "' cannot run here: ", *why));
    }
  }
  if (absl::Status s = LoadInitialWeights(spec, *model); !s.ok()) return s;
  model->to(device);
  model->train();
  return model;
}

absl::StatusOr<std::shared_ptr<models::CausalLm>> LoadTeacher(const spec::DistillSpec& distill,
                                                              int vocab_size,
                                                              const torch::Device& device) {
  if (distill.teacher.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "training.distill.teacher has no checkpoint path yet (from_run ", distill.teacher_from_run,
        ", from_variant \"", distill.teacher_from_variant,
        "\"): the coordinator resolves it when the teacher run has succeeded"));
  }
  std::shared_ptr<models::CausalLm> teacher;
  if (absl::EndsWith(distill.teacher, ".ckpt")) {
    absl::StatusOr<LoadedCheckpoint> loaded = LoadCheckpoint(distill.teacher);
    if (!loaded.ok()) return loaded.status();
    teacher = loaded->model;
  } else {
    absl::StatusOr<spec::ModelSpec> shape = models::ModelSpecFromHfConfig(distill.teacher);
    if (!shape.ok()) return shape.status();
    absl::StatusOr<std::shared_ptr<models::CausalLm>> made =
        models::MakeModel(*shape, spec::AttentionSpec{}, shape->vocab_size);
    if (!made.ok()) return made.status();
    teacher = *std::move(made);
    if (absl::Status s = models::LoadWeights(*teacher, distill.teacher); !s.ok()) return s;
  }
  if (teacher->vocab_size() != vocab_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("training.distill.teacher ", distill.teacher, " has a vocabulary of ",
                     teacher->vocab_size(), " tokens; the trained model has ", vocab_size));
  }
  for (torch::Tensor& p : teacher->parameters()) p.requires_grad_(false);
  teacher->to(device);
  teacher->eval();
  const models::ParameterCounts counts = teacher->parameter_counts();
  Log(absl::StrCat("teacher ", distill.teacher, ": ", teacher->spec().arch, ", ",
                   teacher->spec().n_layer, " layers, ", counts.total, " parameters (frozen)"));
  return teacher;
}

bool HasAdapters(const models::CausalLm& model) {
  for (const auto& item : model.named_parameters()) {
    if (absl::StrContains(item.key(), "_lora.")) return true;
  }
  return false;
}

absl::Status CopyMergedWeights(const models::CausalLm& adapted, models::CausalLm& plain) {
  torch::NoGradGuard no_grad;
  auto target = plain.named_parameters();
  for (const auto& [name, tensor] : models::MergedParameters(adapted)) {
    torch::Tensor* to = target.find(name);
    if (to == nullptr) return absl::InternalError(absl::StrCat("merged LoRA weights: no ", name));
    to->copy_(tensor);
  }
  auto buffers = plain.named_buffers();
  for (const auto& item : adapted.named_buffers()) {
    if (torch::Tensor* to = buffers.find(item.key())) to->copy_(item.value());
  }
  return absl::OkStatus();
}

}  // namespace gwo::trainer
