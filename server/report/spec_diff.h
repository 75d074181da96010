// Differences between run specs (YAML), for comparing runs side by side. Pure.
#ifndef GWO_SERVER_REPORT_SPEC_DIFF_H_
#define GWO_SERVER_REPORT_SPEC_DIFF_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace gwo::server::report {

// A YAML document as dotted paths to scalar text: {"a": {"b": 1, "c": [x, y]}} ->
// a.b = "1", a.c[0] = "x", a.c[1] = "y". Empty maps and lists appear as "{}"/"[]"
// and nulls as "null". INVALID_ARGUMENT for malformed YAML.
absl::StatusOr<std::map<std::string, std::string>> FlattenYaml(const std::string& yaml);

struct SpecDifference {
  std::string key;
  std::vector<std::string> values;  // one per spec, "" where the spec lacks the key
};

// The keys whose values are not the same in every spec, sorted by key.
// INVALID_ARGUMENT naming the spec's index when one does not parse.
absl::StatusOr<std::vector<SpecDifference>> DiffSpecs(const std::vector<std::string>& yamls);

}  // namespace gwo::server::report

#endif  // GWO_SERVER_REPORT_SPEC_DIFF_H_
