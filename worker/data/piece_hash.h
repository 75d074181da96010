// Hashing of the short byte strings that pre-tokenization yields (~5 bytes on
// average), cheaper than absl::Hash for them; transparent, so maps keyed by
// std::string are searched with an absl::string_view without a copy.
#ifndef GWO_WORKER_DATA_PIECE_HASH_H_
#define GWO_WORKER_DATA_PIECE_HASH_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"

namespace gwo::data {

struct PieceHash {
  using is_transparent = void;
  size_t operator()(absl::string_view s) const {
    const char* p = s.data();
    size_t n = s.size();
    uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
    const auto mix = [&h](uint64_t w) {
      h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
      h ^= h >> 31;
    };
    for (; n >= 8; p += 8, n -= 8) mix(Load64(p));
    if (n >= 4) {
      mix((uint64_t{Load32(p)} << 32) | Load32(p + n - 4));
    } else if (n > 0) {
      mix((uint64_t{static_cast<uint8_t>(p[0])} << 16) | (uint64_t{static_cast<uint8_t>(p[n / 2])} << 8) |
          static_cast<uint8_t>(p[n - 1]));
    }
    h *= 0x94D049BB133111EBull;
    return h ^ (h >> 32);
  }
  static uint64_t Load64(const char* p) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    return w;
  }
  static uint32_t Load32(const char* p) {
    uint32_t w;
    std::memcpy(&w, p, 4);
    return w;
  }
};

struct PieceEq {
  using is_transparent = void;
  bool operator()(absl::string_view a, absl::string_view b) const { return a == b; }
};

template <typename V>
using PieceMap = absl::flat_hash_map<std::string, V, PieceHash, PieceEq>;

}  // namespace gwo::data

#endif  // GWO_WORKER_DATA_PIECE_HASH_H_
