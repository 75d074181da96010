#include "spec/attention_kinds.h"

namespace gwo::spec {

const std::vector<absl::string_view>& AttentionKinds() {
  static const auto* kinds = new std::vector<absl::string_view>{"standard"};
  return *kinds;
}

}  // namespace gwo::spec
