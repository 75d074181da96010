// The merge step of byte-pair encoding: given a word as symbol ids (initially one per
// byte), repeatedly replace the adjacent pair of lowest merge rank by its merged
// symbol, the leftmost first among equal pairs, until no adjacent pair is a merge.
// This is the order of HF tokenizers' BPE and gives GPT-2's encoder.py results.
#ifndef GWO_WORKER_DATA_BPE_MERGE_H_
#define GWO_WORKER_DATA_BPE_MERGE_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace gwo::data {

// (left id, right id) -> (rank, merged id).
class MergeTable {
 public:
  // A pair added twice keeps the later rank (as Python's dict(zip(merges, ranks))).
  void Add(int32_t left, int32_t right, uint32_t rank, int32_t merged) {
    map_[Key(left, right)] = (static_cast<uint64_t>(rank) << 32) | static_cast<uint32_t>(merged);
  }
  // rank << 32 | merged id, or kNoMerge. Comparing two results compares ranks.
  static constexpr uint64_t kNoMerge = ~uint64_t{0};
  uint64_t Find(int32_t left, int32_t right) const {
    const auto it = map_.find(Key(left, right));
    return it == map_.end() ? kNoMerge : it->second;
  }
  size_t size() const { return map_.size(); }

 private:
  static uint64_t Key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  }
  absl::flat_hash_map<uint64_t, uint64_t> map_;
};

// Reusable buffers, so merging allocates nothing once they have grown.
struct MergeScratch {
  std::vector<uint64_t> ranks;
  std::vector<int32_t> prev, next;
  struct Candidate {
    uint64_t key;  // rank << 32 | position of the left symbol
    int32_t left, right, merged;
  };
  std::vector<Candidate> heap;
};

// Words up to this many symbols use the quadratic scan, longer ones the heap.
inline constexpr size_t kShortWordSymbols = 64;

// Merges `symbols` in place. O(n^2) with small constants: a rank per adjacent pair,
// rescanned for the minimum after each merge.
void MergeShortWord(const MergeTable& merges, std::vector<int32_t>& symbols, MergeScratch& scratch);
// Same result in O(n log n): a linked list of symbols and a min-heap of candidate
// pairs keyed by (rank, position), stale candidates skipped when popped.
void MergeLongWord(const MergeTable& merges, std::vector<int32_t>& symbols, MergeScratch& scratch);

inline void MergeWord(const MergeTable& merges, std::vector<int32_t>& symbols, MergeScratch& scratch) {
  if (symbols.size() <= kShortWordSymbols) {
    MergeShortWord(merges, symbols, scratch);
  } else {
    MergeLongWord(merges, symbols, scratch);
  }
}

}  // namespace gwo::data

#endif  // GWO_WORKER_DATA_BPE_MERGE_H_
