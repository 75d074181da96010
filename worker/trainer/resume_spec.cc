#include "worker/trainer/resume_spec.h"

#include <yaml-cpp/yaml.h>

#include <map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "spec/parse.h"

namespace gwo::trainer {
namespace {

// `spec` with the fields that may change between attempts set to fixed values.
spec::RunSpec WithoutFreeFields(spec::RunSpec spec) {
  const spec::RunSpec defaults;
  spec.max_restarts = defaults.max_restarts;
  spec.model.init = defaults.model.init;
  spec.model.init_from_run = defaults.model.init_from_run;
  spec.model.init_checkpoint = defaults.model.init_checkpoint;
  if (!spec.data.recipe.empty()) spec.data.path.clear();
  spec::TrainingSpec& t = spec.training;
  t.log_every = defaults.training.log_every;
  t.eval_every = defaults.training.eval_every;
  t.checkpoint_every = defaults.training.checkpoint_every;
  t.keep_checkpoints = defaults.training.keep_checkpoints;
  t.threads = defaults.training.threads;
  t.device = defaults.training.device;
  t.cuda_graph = defaults.training.cuda_graph;
  // Checkpoints from before training.precision existed trained in float32.
  if (t.precision == "auto") t.precision = "fp32";
  return spec;
}

// The scalars of a YAML tree as ("a.b.c", value) pairs, in document order.
void Flatten(const YAML::Node& node, const std::string& prefix,
             std::vector<std::pair<std::string, std::string>>& out) {
  if (node.IsMap()) {
    for (const auto& item : node) {
      const std::string key = item.first.as<std::string>();
      Flatten(item.second, prefix.empty() ? key : absl::StrCat(prefix, ".", key), out);
    }
  } else if (node.IsSequence()) {
    for (size_t i = 0; i < node.size(); ++i)
      Flatten(node[i], absl::StrCat(prefix, "[", i, "]"), out);
  } else {
    out.emplace_back(prefix, node.IsNull() ? "null" : node.Scalar());
  }
}

std::vector<std::pair<std::string, std::string>> Fields(const spec::RunSpec& spec) {
  std::vector<std::pair<std::string, std::string>> fields;
  Flatten(YAML::Load(spec::RunSpecToYaml(WithoutFreeFields(spec))), "", fields);
  return fields;
}

}  // namespace

std::optional<std::string> ResumeIncompatibility(const spec::RunSpec& saved,
                                                 const spec::RunSpec& given) {
  // Compared through the serialized form so that a field added to RunSpec (and to
  // RunSpecToYaml) counts without this file changing.
  const auto saved_fields = Fields(saved), given_fields = Fields(given);
  std::map<std::string, std::string> given_by_key(given_fields.begin(), given_fields.end());
  std::string differences;
  for (const auto& [key, value] : saved_fields) {
    const auto it = given_by_key.find(key);
    const std::string now = it == given_by_key.end() ? "(absent)" : it->second;
    if (now != value) {
      absl::StrAppend(&differences, differences.empty() ? "" : "\n", key, ": ", value,
                      " in the checkpoint, ", now, " now");
    }
    if (it != given_by_key.end()) given_by_key.erase(it);
  }
  for (const auto& [key, value] : given_fields) {
    if (given_by_key.contains(key)) {
      absl::StrAppend(&differences, differences.empty() ? "" : "\n", key,
                      ": (absent) in the checkpoint, ", value, " now");
    }
  }
  if (differences.empty()) return std::nullopt;
  return differences;
}

}  // namespace gwo::trainer
