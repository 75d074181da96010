#include "worker/attention/registry.h"

#include <torch/torch.h>

#include <cmath>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spec/attention_kinds.h"
#include "worker/attention/standard.h"

namespace gwo::attention {
namespace {

using ::testing::HasSubstr;

constexpr AttentionDims kDims{.n_head = 2, .head_dim = 4, .block_size = 8, .dropout = 0.0};

TEST(Registry, KindsEqualSpecAttentionKinds) {
  std::vector<std::string> spec_kinds, registered;
  for (const auto& kind : spec::AttentionKinds()) spec_kinds.emplace_back(kind.data(), kind.size());
  for (const std::string_view kind : RegisteredKinds()) registered.emplace_back(kind);
  EXPECT_EQ(registered, spec_kinds);
}

TEST(Registry, EveryKindBuilds) {
  for (const std::string_view kind : RegisteredKinds()) {
    spec::AttentionSpec spec;
    spec.kind = std::string(kind);
    absl::StatusOr<std::shared_ptr<Attention>> made = MakeAttention(spec, kDims);
    ASSERT_TRUE(made.ok()) << kind << ": " << made.status();
    EXPECT_NE(*made, nullptr);
  }
}

TEST(Registry, UnknownKindErrorListsKnownKinds) {
  spec::AttentionSpec spec;
  spec.kind = "telepathic";
  absl::StatusOr<std::shared_ptr<Attention>> made = MakeAttention(spec, kDims);
  EXPECT_EQ(made.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(made.status().message(), HasSubstr("telepathic"));
  for (const std::string_view kind : RegisteredKinds()) {
    EXPECT_THAT(made.status().message(), HasSubstr(std::string(kind)));
  }
}

TEST(Registry, NonPositiveDimsAreInvalidArgument) {
  AttentionDims dims = kDims;
  dims.head_dim = 0;
  EXPECT_EQ(MakeAttention(spec::AttentionSpec{}, dims).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// out[t] = sum_{s <= t} softmax_s(q[t] . k[s] / sqrt(hd)) v[s], one row at a time.
torch::Tensor NaiveCausalAttention(const torch::Tensor& q, const torch::Tensor& k,
                                   const torch::Tensor& v) {
  const int64_t T = q.size(2);
  torch::Tensor out = torch::zeros_like(q);
  for (int64_t t = 0; t < T; ++t) {
    using torch::indexing::Slice;
    const torch::Tensor keys = k.index({Slice(), Slice(), Slice(0, t + 1)});  // (B, nh, t+1, hd)
    const torch::Tensor scores = (q.index({Slice(), Slice(), Slice(t, t + 1)}) * keys).sum(-1) /
                                 std::sqrt(double(q.size(3)));
    const torch::Tensor p = torch::softmax(scores, -1).unsqueeze(-1);  // (B, nh, t+1, 1)
    out.index_put_({Slice(), Slice(), t},
                   (p * v.index({Slice(), Slice(), Slice(0, t + 1)})).sum(2));
  }
  return out;
}

TEST(StandardAttention, MatchesNaiveCausalSoftmax) {
  torch::manual_seed(0);
  const torch::Tensor q = torch::randn({2, 2, 8, 4}), k = torch::randn({2, 2, 8, 4}),
                      v = torch::randn({2, 2, 8, 4});  // (B, nh, T, hd)
  StandardAttention attention(kDims);
  EXPECT_TRUE(
      torch::allclose(attention.forward(q, k, v), NaiveCausalAttention(q, k, v), 1e-5, 1e-6));
  EXPECT_TRUE(
      torch::allclose(attention.Reference(q, k, v), NaiveCausalAttention(q, k, v), 1e-5, 1e-6));
}

TEST(StandardAttention, UnsupportedExplainsTooLongSequences) {
  StandardAttention attention(kDims);
  EXPECT_FALSE(attention.Unsupported(torch::kCPU, torch::kFloat32, 8).has_value());
  const std::optional<std::string> why = attention.Unsupported(torch::kCPU, torch::kFloat32, 9);
  ASSERT_TRUE(why.has_value());
  EXPECT_THAT(*why, HasSubstr("block_size"));
}

}  // namespace
}  // namespace gwo::attention
