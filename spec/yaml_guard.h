// Checks YAML text before it becomes a node tree: what a job file may not be, whoever
// wrote it. One document, UTF-8, within size, depth and node-count limits, no
// anchors or aliases (an alias bomb expands a few lines into billions of nodes), and
// no key twice in one mapping (yaml-cpp keeps one of them silently).
#ifndef GWO_SPEC_YAML_GUARD_H_
#define GWO_SPEC_YAML_GUARD_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "spec/yaml_reader.h"

namespace gwo::spec {

struct YamlLimits {
  size_t max_bytes = 1 << 20;  // a job file is a few KiB; examples/ peak at 5 KiB
  int max_depth = 32;          // mappings and lists nested in each other
  int64_t max_nodes = 100000;  // scalars, lists and mappings together
};

// Adds every problem found to `errors` and returns false if there was one. Runs
// yaml-cpp's event parser, so a syntax error is reported here too.
bool CheckYamlText(absl::string_view text, ErrorList* errors, const YamlLimits& limits = {});

}  // namespace gwo::spec

#endif  // GWO_SPEC_YAML_GUARD_H_
