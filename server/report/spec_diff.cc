#include "server/report/spec_diff.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "yaml-cpp/yaml.h"

namespace gwo::server::report {
namespace {

void Flatten(const YAML::Node& node, const std::string& path, std::map<std::string, std::string>* out) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      if (node.size() == 0) (*out)[path] = "{}";
      for (const auto& kv : node) {
        const std::string key = kv.first.as<std::string>();
        Flatten(kv.second, path.empty() ? key : absl::StrCat(path, ".", key), out);
      }
      break;
    case YAML::NodeType::Sequence:
      if (node.size() == 0) (*out)[path] = "[]";
      for (size_t i = 0; i < node.size(); ++i) Flatten(node[i], absl::StrCat(path, "[", i, "]"), out);
      break;
    case YAML::NodeType::Scalar:
      (*out)[path] = node.Scalar();
      break;
    default:  // Null, Undefined
      (*out)[path] = "null";
  }
}

}  // namespace

absl::StatusOr<std::map<std::string, std::string>> FlattenYaml(const std::string& yaml) {
  std::map<std::string, std::string> out;
  try {
    Flatten(YAML::Load(yaml), "", &out);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("malformed YAML: ", e.what()));
  }
  return out;
}

absl::StatusOr<std::vector<SpecDifference>> DiffSpecs(const std::vector<std::string>& yamls) {
  std::vector<std::map<std::string, std::string>> flat;
  std::set<std::string> keys;
  for (size_t i = 0; i < yamls.size(); ++i) {
    absl::StatusOr<std::map<std::string, std::string>> f = FlattenYaml(yamls[i]);
    if (!f.ok()) return absl::InvalidArgumentError(absl::StrCat("spec ", i, ": ", f.status().message()));
    for (const auto& [k, v] : *f) keys.insert(k);
    flat.push_back(std::move(*f));
  }
  std::vector<SpecDifference> out;
  for (const std::string& key : keys) {
    SpecDifference d{key, {}};
    bool differs = false;
    for (const auto& f : flat) {
      auto it = f.find(key);
      d.values.push_back(it == f.end() ? "" : it->second);
      differs = differs || it == f.end() || d.values.back() != d.values.front();
    }
    if (differs) out.push_back(std::move(d));
  }
  return out;
}

}  // namespace gwo::server::report
