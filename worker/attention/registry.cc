#include "worker/attention/registry.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "worker/attention/factorized.h"
#include "worker/attention/learned_mask.h"
#include "worker/attention/linear.h"
#include "worker/attention/mask_mixture.h"
#include "worker/attention/natural.h"
#include "worker/attention/nsa.h"
#include "worker/attention/performer.h"
#include "worker/attention/sliding_window.h"
#include "worker/attention/standard.h"

namespace gwo::attention {
namespace {

std::shared_ptr<Attention> MakeStandard(const spec::AttentionSpec&, const AttentionDims& dims) {
  return std::make_shared<StandardAttention>(dims);
}
std::shared_ptr<Attention> MakeFactorized(const spec::AttentionSpec& s, const AttentionDims& dims) {
  return std::make_shared<FactorizedAttention>(dims, s.factorized);
}
std::shared_ptr<Attention> MakeSlidingWindow(const spec::AttentionSpec& s,
                                             const AttentionDims& dims) {
  return std::make_shared<SlidingWindowAttention>(dims, s.sliding_window);
}
std::shared_ptr<Attention> MakeMaskMixture(const spec::AttentionSpec& s, const AttentionDims& dims) {
  return std::make_shared<MaskMixtureAttention>(dims, s.mask_mixture);
}
std::shared_ptr<Attention> MakeLearnedMask(const spec::AttentionSpec& s, const AttentionDims& dims) {
  return std::make_shared<LearnedMaskAttention>(dims, s.learned_mask);
}
std::shared_ptr<Attention> MakePerformer(const spec::AttentionSpec& s, const AttentionDims& dims) {
  return std::make_shared<PerformerAttention>(dims, s.performer);
}
std::shared_ptr<Attention> MakeNsa(const spec::AttentionSpec& s, const AttentionDims& dims) {
  return std::make_shared<NsaAttention>(dims, s.nsa);
}
std::shared_ptr<Attention> MakeNatural(const spec::AttentionSpec&, const AttentionDims& dims) {
  return std::make_shared<NaturalAttention>(dims);
}
std::shared_ptr<Attention> MakeLinear(const spec::AttentionSpec& s, const AttentionDims& dims) {
  return std::make_shared<LinearAttention>(dims, s.linear);
}

// Constant-initialised (no static initialiser runs, nothing for the linker to drop).
// Same order as spec::AttentionKinds().
constexpr RegistryEntry kRegistry[] = {
    {"standard", &MakeStandard},
    {"factorized", &MakeFactorized},
    {"sliding_window", &MakeSlidingWindow},
    {"mask_mixture", &MakeMaskMixture},
    {"learned_mask", &MakeLearnedMask},
    {"performer", &MakePerformer},
    {"nsa", &MakeNsa},
    {"natural", &MakeNatural},
    {"linear", &MakeLinear},
};

}  // namespace

std::span<const RegistryEntry> Registry() { return kRegistry; }

std::vector<std::string_view> RegisteredKinds() {
  std::vector<std::string_view> kinds;
  for (const RegistryEntry& entry : kRegistry) kinds.push_back(entry.kind);
  return kinds;
}

absl::StatusOr<std::shared_ptr<Attention>> MakeAttention(const spec::AttentionSpec& spec,
                                                         const AttentionDims& dims) {
  if (dims.n_head <= 0 || dims.head_dim <= 0 || dims.block_size <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("attention needs positive n_head, head_dim and block_size, got ", dims.n_head,
                     ", ", dims.head_dim, ", ", dims.block_size));
  }
  if (!(dims.dropout >= 0.0 && dims.dropout < 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("attention dropout must be in [0, 1), got ", dims.dropout));
  }
  for (const RegistryEntry& entry : kRegistry) {
    if (entry.kind == spec.kind) return entry.make(spec, dims);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown attention kind '", spec.kind, "'; known kinds: ",
      absl::StrJoin(RegisteredKinds(), ", ",
                    [](std::string* out, std::string_view kind) { out->append(kind); })));
}

}  // namespace gwo::attention
