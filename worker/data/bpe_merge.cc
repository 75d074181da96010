#include "worker/data/bpe_merge.h"

#include <algorithm>
#include <cstring>
#include <functional>

namespace gwo::data {

void MergeShortWord(const MergeTable& merges, std::vector<int32_t>& symbols, MergeScratch& scratch) {
  size_t n = symbols.size();
  if (n < 2) return;
  int32_t* syms = symbols.data();
  scratch.ranks.resize(n);
  uint64_t* ranks = scratch.ranks.data();  // ranks[i]: the pair (syms[i], syms[i + 1])
  for (size_t i = 0; i + 1 < n; ++i) ranks[i] = merges.Find(syms[i], syms[i + 1]);
  ranks[n - 1] = MergeTable::kNoMerge;
  while (n > 1) {
    uint64_t best = MergeTable::kNoMerge;
    size_t at = 0;
    for (size_t i = 0; i + 1 < n; ++i) {
      if (ranks[i] < best) {  // strict: the leftmost of equal pairs
        best = ranks[i];
        at = i;
      }
    }
    if (best == MergeTable::kNoMerge) break;
    syms[at] = static_cast<int32_t>(best & 0xFFFFFFFFu);
    // Drop symbol at + 1 and the rank of the pair it started.
    std::memmove(syms + at + 1, syms + at + 2, (n - at - 2) * sizeof(int32_t));
    std::memmove(ranks + at + 1, ranks + at + 2, (n - at - 2) * sizeof(uint64_t));
    --n;
    ranks[at] = at + 1 < n ? merges.Find(syms[at], syms[at + 1]) : MergeTable::kNoMerge;
    if (at > 0) ranks[at - 1] = merges.Find(syms[at - 1], syms[at]);
  }
  symbols.resize(n);
}

void MergeLongWord(const MergeTable& merges, std::vector<int32_t>& symbols, MergeScratch& scratch) {
  const size_t n = symbols.size();
  if (n < 2) return;
  int32_t* syms = symbols.data();  // -1 once merged into its left neighbour
  scratch.prev.resize(n);
  scratch.next.resize(n);
  int32_t* prev = scratch.prev.data();
  int32_t* next = scratch.next.data();  // -1: last symbol
  for (size_t i = 0; i < n; ++i) {
    prev[i] = static_cast<int32_t>(i) - 1;
    next[i] = i + 1 < n ? static_cast<int32_t>(i + 1) : -1;
  }
  auto& heap = scratch.heap;
  heap.clear();
  const auto later = [](const MergeScratch::Candidate& a, const MergeScratch::Candidate& b) {
    return a.key > b.key;
  };
  const auto push = [&](int32_t pos) {
    const int32_t right = next[pos];
    if (right < 0) return;
    const uint64_t found = merges.Find(syms[pos], syms[right]);
    if (found == MergeTable::kNoMerge) return;
    heap.push_back({(found & 0xFFFFFFFF00000000u) | static_cast<uint32_t>(pos), syms[pos], syms[right],
                    static_cast<int32_t>(found & 0xFFFFFFFFu)});
    std::push_heap(heap.begin(), heap.end(), later);
  };
  for (size_t i = 0; i + 1 < n; ++i) push(static_cast<int32_t>(i));
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    const MergeScratch::Candidate c = heap.back();
    heap.pop_back();
    const auto pos = static_cast<int32_t>(c.key & 0xFFFFFFFFu);
    const int32_t right = next[pos];
    // Stale: either symbol has changed since this pair was pushed.
    if (syms[pos] != c.left || right < 0 || syms[right] != c.right) continue;
    syms[pos] = c.merged;
    syms[right] = -1;
    next[pos] = next[right];
    if (next[right] >= 0) prev[next[right]] = pos;
    if (prev[pos] >= 0) push(prev[pos]);
    push(pos);
  }
  size_t out = 0;
  for (int32_t i = 0; i >= 0; i = next[i]) syms[out++] = syms[i];
  symbols.resize(out);
}

}  // namespace gwo::data
