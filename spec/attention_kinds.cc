#include "spec/attention_kinds.h"

namespace gwo::spec {

const std::vector<absl::string_view>& AttentionKinds() {
  // Same order as the registry (worker/attention/registry.cc).
  static const auto* kinds = new std::vector<absl::string_view>{
      "standard",     "factorized", "sliding_window", "mask_mixture", "learned_mask",
      "performer",    "nsa",        "natural",        "linear"};
  return *kinds;
}

}  // namespace gwo::spec
