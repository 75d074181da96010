// The scale switch of a job.yaml: `scales: {NAME: {overrides}}` and `scale: NAME`.
// The chosen overrides are merged into the document before it is validated, so a
// value that came from an override is reported at its own line in the file.

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "spec/parse_internal.h"

namespace gwo::spec::internal {
namespace {

// Whether `node` is a non-empty list whose items are all mappings with a scalar `name`.
bool IsNamedList(const YAML::Node& node) {
  if (!node.IsSequence() || node.size() == 0) return false;
  for (const YAML::Node& item : node) {
    if (!item.IsMap()) return false;
    const YAML::Node name = item["name"];
    if (!name.IsDefined() || !name.IsScalar()) return false;
  }
  return true;
}

void Merge(YAML::Node base, const YAML::Node& over);

// Merges the named list `over` into the named list `base`: an item overrides the
// item of `base` with the same name (deep-merged), other items are appended.
void MergeNamedList(YAML::Node base, const YAML::Node& over) {
  for (const YAML::Node& item : over) {
    const std::string name = item["name"].Scalar();
    bool found = false;
    for (YAML::Node target : base) {
      if (target["name"].Scalar() == name) {
        Merge(target, item);
        found = true;
        break;
      }
    }
    if (!found) base.push_back(item);
  }
}

// Deep merge of mapping `over` into mapping `base` (both maps).
void Merge(YAML::Node base, const YAML::Node& over) {
  for (const auto& entry : over) {
    const std::string key = entry.first.Scalar();
    const YAML::Node value = entry.second;
    // Only read keys that exist: indexing a missing key would insert it.
    bool present = false;
    for (const auto& b : base) {
      if (b.first.Scalar() == key) {
        present = true;
        break;
      }
    }
    if (present) {
      YAML::Node target = base[key];
      if (target.IsMap() && value.IsMap()) {
        Merge(target, value);
        continue;
      }
      if (IsNamedList(target) && IsNamedList(value)) {
        MergeNamedList(target, value);
        continue;
      }
    }
    base[key] = value;  // replaces (keeping the override's position in the file)
  }
}

}  // namespace

void ApplyScale(YAML::Node root, const std::string& requested, ErrorList* errors) {
  if (!root.IsMap()) return;  // the top-level reader reports it
  const YAML::Node& read = root;  // const: looking up a missing key must not insert it
  const YAML::Node scales = read["scales"];
  const YAML::Node scale = read["scale"];
  if (!scales.IsDefined()) {
    if (scale.IsDefined()) {
      errors->Add(scale.Mark(), "scale", "names a scale, but the file has no scales: {NAME: {...}}");
      root.remove("scale");
    } else if (!requested.empty()) {
      errors->Add(root.Mark(), "scales",
                  absl::StrCat("is required for the requested scale \"", requested,
                               "\" (scales: {", requested, ": {overrides}})"));
    }
    return;
  }
  if (!scales.IsMap() || scales.size() == 0) {
    errors->Add(scales.Mark(), "scales",
                absl::StrCat("expected a mapping of scale names to overrides, got ", Describe(scales)));
    return;
  }
  std::vector<std::string> names;
  bool shape_ok = true;
  for (const auto& entry : scales) {
    const std::string name = entry.first.Scalar();
    names.push_back(name);
    const YAML::Node over = entry.second;
    const std::string path = absl::StrCat("scales.", name);
    if (over.IsNull()) continue;  // a scale that changes nothing
    if (!over.IsMap()) {
      errors->Add(over.Mark(), path, absl::StrCat("expected a mapping of overrides, got ", Describe(over)));
      shape_ok = false;
      continue;
    }
    for (const char* key : {"scale", "scales", "name"}) {
      if (over[key].IsDefined()) {
        errors->Add(over[key].Mark(), absl::StrCat(path, ".", key),
                    "cannot be overridden by a scale");
        shape_ok = false;
      }
    }
  }
  std::string chosen = requested;
  if (chosen.empty()) {
    if (!scale.IsDefined()) {
      errors->Add(scales.Mark(), "scale",
                  absl::StrCat("is required with scales (one of ", absl::StrJoin(names, ", "),
                               "; or gwoctl submit --scale NAME)"));
      return;
    }
    if (!scale.IsScalar() || scale.Scalar().empty()) {
      errors->Add(scale.Mark(), "scale",
                  absl::StrCat("expected one of ", absl::StrJoin(names, ", "), ", got ", Describe(scale)));
      return;
    }
    chosen = scale.Scalar();
  }
  const YAML::Mark where = requested.empty() ? scale.Mark() : scales.Mark();
  if (std::find(names.begin(), names.end(), chosen) == names.end()) {
    errors->Add(where, requested.empty() ? "scale" : "scales",
                absl::StrCat("has no scale \"", chosen, "\" (expected one of ",
                             absl::StrJoin(names, ", "), ")"));
    return;
  }
  if (!shape_ok) return;
  const YAML::Node over = scales[chosen];
  root.remove("scales");
  root.remove("scale");
  if (over.IsMap()) Merge(root, over);
}

}  // namespace gwo::spec::internal
