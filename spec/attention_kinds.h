// The attention kinds a spec may name. gwo-train's registry
// (worker/attention/registry.cc) has one entry per name here; a test checks both agree.
#ifndef GWO_SPEC_ATTENTION_KINDS_H_
#define GWO_SPEC_ATTENTION_KINDS_H_

#include "absl/strings/string_view.h"
#include <vector>

namespace gwo::spec {

const std::vector<absl::string_view>& AttentionKinds();

}  // namespace gwo::spec

#endif  // GWO_SPEC_ATTENTION_KINDS_H_
