// The one validating parser from YAML to spec structs. Every error names
// `file:line:column`, the key path, and what was expected; unknown keys, wrong
// types and out-of-range values are errors.
#ifndef GWO_SPEC_PARSE_H_
#define GWO_SPEC_PARSE_H_

#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "spec/experiment_spec.h"
#include "spec/run_spec.h"

namespace gwo::spec {

// Parses a job.yaml. INVALID_ARGUMENT lists every problem found, one per line.
absl::StatusOr<ExperimentSpec> ParseExperimentSpec(absl::string_view yaml,
                                                   absl::string_view file_name);

// The same at scale `scale`: the overrides of `scales.<scale>` are merged into the
// document before it is validated (see "Scales" in README.md); an empty `scale`
// means the file's `scale:` default. INVALID_ARGUMENT also for an unknown scale or a
// scale requested from a file without `scales:`.
absl::StatusOr<ExperimentSpec> ParseExperimentSpec(absl::string_view yaml,
                                                   absl::string_view file_name,
                                                   absl::string_view scale);

// Parses a run spec as written by RunSpecToYaml (or by hand for gwo-train).
absl::StatusOr<RunSpec> ParseRunSpec(absl::string_view yaml, absl::string_view file_name);

// Serializes a run spec; ParseRunSpec(RunSpecToYaml(r)) == r.
std::string RunSpecToYaml(const RunSpec& run);

}  // namespace gwo::spec

#endif  // GWO_SPEC_PARSE_H_
