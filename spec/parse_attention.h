// Parsing and serialising the `attention:` mapping of a spec: `kind:` and, flat next to
// it, the options of that kind (the AttentionSpec option structs in run_spec.h).
#ifndef GWO_SPEC_PARSE_ATTENTION_H_
#define GWO_SPEC_PARSE_ATTENTION_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "spec/run_spec.h"
#include "spec/yaml_reader.h"
#include "yaml-cpp/yaml.h"

namespace gwo::spec {

// Reads the attention mapping `node` (at key path `path`, e.g. "variants[1].attention")
// over *a, which holds the inherited values: absent keys keep them. A kind naming
// options of another kind, unknown keys and out-of-range values are errors in *errors;
// an undefined node changes nothing.
void ReadAttention(const YAML::Node& node, const std::string& path, ErrorList* errors,
                   AttentionSpec* a);

// Writes `a` as a YAML map value: `kind` and every option of that kind (only those,
// so the text parses back with ReadAttention to the same values).
void WriteAttention(const AttentionSpec& a, YAML::Emitter* out);

// The option keys `kind` accepts (empty for kinds without options, and unknown kinds).
const std::vector<absl::string_view>& AttentionOptionKeys(absl::string_view kind);

}  // namespace gwo::spec

#endif  // GWO_SPEC_PARSE_ATTENTION_H_
