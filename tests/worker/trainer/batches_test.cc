#include "worker/trainer/batches.h"

#include <numeric>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gwo::trainer {
namespace {

using ::testing::ElementsAre;

TEST(GatherWindows, TargetsAreInputsShiftedByOne) {
  std::vector<int32_t> tokens(20);
  std::iota(tokens.begin(), tokens.end(), 100);
  const std::vector<int64_t> starts = {0, 16};
  const TokenBatch batch = GatherWindows(tokens, starts, 3);
  EXPECT_THAT(batch.inputs, ElementsAre(100, 101, 102, 116, 117, 118));
  EXPECT_THAT(batch.targets, ElementsAre(101, 102, 103, 117, 118, 119));
}

TEST(WindowSampler, SameSeedSameWindowsAndAllInRange) {
  WindowSampler a(100, 8, 42), b(100, 8, 42), c(100, 8, 43);
  bool differs = false;
  for (int i = 0; i < 50; ++i) {
    const std::vector<int64_t> sa = a.Next(4), sb = b.Next(4), sc = c.Next(4);
    EXPECT_EQ(sa, sb);
    differs |= sa != sc;
    for (const int64_t s : sa) {
      EXPECT_GE(s, 0);
      EXPECT_LE(s, 100 - 8 - 1);
    }
  }
  EXPECT_TRUE(differs);
}

TEST(WindowSampler, SequenceIsPinnedAcrossPlatforms) {
  // mt19937_64 is specified by the standard, so these starts never change.
  WindowSampler sampler(1000, 10, 0);
  const std::vector<int64_t> starts = sampler.Next(3);
  std::mt19937_64 rng(0);
  EXPECT_EQ(starts[0], static_cast<int64_t>(rng() % 990));
  EXPECT_EQ(starts[1], static_cast<int64_t>(rng() % 990));
}

TEST(WindowSampler, RestoredStateDrawsTheSameWindows) {
  WindowSampler a(1000, 10, 3);
  a.Next(7);
  const std::string state = a.State();
  WindowSampler b(1000, 10, 99);
  ASSERT_TRUE(b.Restore(state).ok());
  for (int i = 0; i < 20; ++i) EXPECT_EQ(a.Next(4), b.Next(4));
  EXPECT_EQ(a.State(), b.State());
}

TEST(WindowSampler, StateOfOtherDataOrGarbageIsRefused) {
  WindowSampler a(1000, 10, 3), other_data(2000, 10, 3);
  const std::vector<int64_t> before = other_data.Next(2);
  EXPECT_EQ(other_data.Restore(a.State()).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(a.Restore("window-sampler 1 990 1 2 3").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(a.Restore("").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(a.Restore(a.State() + " 7").code(), absl::StatusCode::kInvalidArgument);
  WindowSampler fresh(2000, 10, 3);
  fresh.Next(2);
  EXPECT_EQ(other_data.Next(3), fresh.Next(3));  // unchanged by the refusals
}

TEST(EvenlySpacedStarts, CoverBothEnds) {
  EXPECT_THAT(EvenlySpacedStarts(21, 4, 5), ElementsAre(0, 4, 8, 12, 16));
  EXPECT_THAT(EvenlySpacedStarts(21, 4, 1), ElementsAre(0));
  EXPECT_THAT(EvenlySpacedStarts(5, 4, 3), ElementsAre(0, 0, 0));
}

}  // namespace
}  // namespace gwo::trainer
