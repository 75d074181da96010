#include "worker/data/bpe_merge.h"

#include <cstdint>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gwo::data {
namespace {

using ::testing::ElementsAre;

// GPT-2's encoder.py bpe(): take the adjacent pair of lowest rank, merge every
// occurrence of it left to right, repeat.
std::vector<int32_t> ReferenceMerge(const MergeTable& merges, std::vector<int32_t> word) {
  while (word.size() > 1) {
    uint64_t best = MergeTable::kNoMerge;
    int32_t left = -1, right = -1;
    for (size_t i = 0; i + 1 < word.size(); ++i) {
      const uint64_t found = merges.Find(word[i], word[i + 1]);
      if (found < best) {
        best = found;
        left = word[i];
        right = word[i + 1];
      }
    }
    if (best == MergeTable::kNoMerge) break;
    std::vector<int32_t> merged;
    for (size_t i = 0; i < word.size(); ++i) {
      if (i + 1 < word.size() && word[i] == left && word[i + 1] == right) {
        merged.push_back(static_cast<int32_t>(best & 0xFFFFFFFFu));
        ++i;
      } else {
        merged.push_back(word[i]);
      }
    }
    word = merged;
  }
  return word;
}

// Symbols 0..3 are "bytes" a b c d; merges build longer symbols from 4 upwards.
MergeTable ToyMerges() {
  MergeTable merges;
  uint32_t rank = 0;
  merges.Add(0, 0, rank++, 4);    // aa
  merges.Add(1, 2, rank++, 5);    // bc
  merges.Add(4, 4, rank++, 6);    // aaaa
  merges.Add(0, 1, rank++, 7);    // ab
  merges.Add(7, 2, rank++, 8);    // abc
  merges.Add(5, 3, rank++, 9);    // bcd
  merges.Add(3, 3, rank++, 10);   // dd
  merges.Add(6, 4, rank++, 11);   // aaaaaa
  merges.Add(10, 0, rank++, 12);  // dda
  return merges;
}

TEST(MergeWord, LowestRankFirstLeftmostAmongEquals) {
  const MergeTable merges = ToyMerges();
  MergeScratch scratch;
  std::vector<int32_t> word = {0, 0, 0};  // aaa -> aa a
  MergeShortWord(merges, word, scratch);
  EXPECT_THAT(word, ElementsAre(4, 0));
  word = {0, 1, 2};  // abc: "bc" outranks "ab", and "a bc" is no merge
  MergeShortWord(merges, word, scratch);
  EXPECT_THAT(word, ElementsAre(0, 5));
  word = {0, 0, 0, 0, 0, 0, 3, 3, 0};  // aaaaaa dda
  MergeLongWord(merges, word, scratch);
  EXPECT_THAT(word, ElementsAre(11, 12));
}

TEST(MergeWord, ShortAndLongAlgorithmsAgreeWithGpt2Reference) {
  const MergeTable merges = ToyMerges();
  MergeScratch scratch;
  uint64_t state = 7;
  for (int round = 0; round < 3000; ++round) {
    std::vector<int32_t> word(1 + round % 150);
    for (int32_t& s : word) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      s = static_cast<int32_t>((state >> 33) % (round % 3 == 0 ? 2 : 4));  // some runs of a/b only
    }
    const std::vector<int32_t> expected = ReferenceMerge(merges, word);
    std::vector<int32_t> short_word = word, long_word = word, dispatched = word;
    MergeShortWord(merges, short_word, scratch);
    MergeLongWord(merges, long_word, scratch);
    MergeWord(merges, dispatched, scratch);
    ASSERT_EQ(short_word, expected) << "round " << round;
    ASSERT_EQ(long_word, expected) << "round " << round;
    ASSERT_EQ(dispatched, expected) << "round " << round;
  }
}

TEST(MergeTable, LaterDuplicateWins) {
  MergeTable merges;
  merges.Add(1, 2, 0, 10);
  merges.Add(1, 2, 5, 11);
  EXPECT_EQ(merges.Find(1, 2), (uint64_t{5} << 32) | 11);
  EXPECT_EQ(merges.Find(2, 1), MergeTable::kNoMerge);
}

}  // namespace
}  // namespace gwo::data
