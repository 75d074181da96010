// The registry of attention variants: an explicit table from a spec's `kind:` name to
// a factory. Adding a variant means adding one row in registry.cc (and its name in
// spec/attention_kinds.cc; a test checks both lists agree).
#ifndef GWO_WORKER_ATTENTION_REGISTRY_H_
#define GWO_WORKER_ATTENTION_REGISTRY_H_

#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "spec/run_spec.h"
#include "worker/attention/attention.h"

namespace gwo::attention {

// Builds a variant from its spec and the model dimensions; dims are already checked.
using AttentionFactory = std::shared_ptr<Attention> (*)(const spec::AttentionSpec& spec,
                                                        const AttentionDims& dims);

struct RegistryEntry {
  std::string_view kind;
  AttentionFactory make;
};

// Every registered variant, in a fixed order.
std::span<const RegistryEntry> Registry();

// The kinds of Registry(), in the same order.
std::vector<std::string_view> RegisteredKinds();

// Builds the variant named by spec.kind. INVALID_ARGUMENT for an unknown kind (the
// message lists the known kinds) or for non-positive dims / dropout outside [0, 1).
absl::StatusOr<std::shared_ptr<Attention>> MakeAttention(const spec::AttentionSpec& spec,
                                                         const AttentionDims& dims);

}  // namespace gwo::attention

#endif  // GWO_WORKER_ATTENTION_REGISTRY_H_
