#include "server/stages.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "server/submit_check.h"
#include "spec/experiment_spec.h"
#include "spec/parse.h"

namespace gwo::server {
namespace {

std::string SiblingName(const spec::RunSpec& run, const std::string& variant) {
  spec::RunSpec other = run;
  other.variant = variant;
  return spec::RunName(other);
}

// The checkpoint of the dependency of `variant`, or why there is none.
absl::StatusOr<std::pair<std::string, int64_t>> CheckpointOf(const std::vector<DependencyRecord>& deps,
                                                             const std::string& variant, const std::string& which) {
  for (const DependencyRecord& d : deps) {
    if (d.variant != variant) continue;
    if (d.state != RunState::kSucceeded) {
      return absl::FailedPreconditionError(
          absl::StrCat("stage dependency run ", d.run_id, " (", d.name, ") is ", RunStateName(d.state)));
    }
    if (d.output_dir.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("stage dependency run ", d.run_id, " (", d.name, ") has no outputs on record"));
    }
    return std::make_pair(RunCheckpointPath(d.output_dir, which), d.run_id);
  }
  return absl::FailedPreconditionError(absl::StrCat("no dependency of variant \"", variant, "\" on record"));
}

}  // namespace

std::vector<std::string> StageDependencies(const spec::RunSpec& run) {
  std::set<std::string> names;
  if (!run.model.init_from_variant.empty()) names.insert(SiblingName(run, run.model.init_from_variant));
  if (!run.training.distill.teacher_from_variant.empty()) {
    names.insert(SiblingName(run, run.training.distill.teacher_from_variant));
  }
  return {names.begin(), names.end()};
}

absl::StatusOr<std::string> ResolveStages(const std::string& spec_yaml, const std::vector<DependencyRecord>& deps) {
  if (deps.empty()) return spec_yaml;
  absl::StatusOr<spec::RunSpec> run = spec::ParseRunSpec(spec_yaml, "run.yaml");
  if (!run.ok()) return absl::InvalidArgumentError(absl::StrCat("stored run spec: ", run.status().message()));
  if (!run->model.init_from_variant.empty()) {
    auto ckpt = CheckpointOf(deps, run->model.init_from_variant, run->model.init_checkpoint);
    if (!ckpt.ok()) return ckpt.status();
    run->model.init = ckpt->first;
    run->model.init_from_run = ckpt->second;
  }
  spec::DistillSpec& d = run->training.distill;
  if (!d.teacher_from_variant.empty()) {
    auto ckpt = CheckpointOf(deps, d.teacher_from_variant, d.teacher_checkpoint);
    if (!ckpt.ok()) return ckpt.status();
    d.teacher = ckpt->first;
    d.teacher_from_run = ckpt->second;
  }
  return spec::RunSpecToYaml(*run);
}

int64_t EstimateGpuMemoryBytes(const spec::RunSpec& run) {
  const spec::ModelSpec& m = run.model;
  const double vocab = m.vocab_size > 0 ? m.vocab_size : (run.data.tokenizer == "byte" ? 256 : 50257);
  const double e = m.n_embd, l = m.n_layer, t = m.block_size, b = run.training.batch_size;
  const double ffn = m.intermediate_size > 0 ? m.intermediate_size : 4 * e;
  const double params = vocab * e + t * e + l * (4 * e * e + 2 * e * ffn + 13 * e);
  // Attention probabilities are not counted: the standard kind runs SDPA kernels that
  // never hold (B, nh, T, T). Counting them (5 * n_head * T per token and layer)
  // asked 107 GiB for a GPT-2 at 4096 x 4 that trains in 33 GiB on an H100, and such a
  // run waited forever for a GPU that no worker has.
  const double activations = 34 * e * b * t * l * 2;
  const double logits = b * t * vocab * 4 * 2;
  return static_cast<int64_t>(params * 16 + activations + logits) + (int64_t{1} << 30);
}

}  // namespace gwo::server
