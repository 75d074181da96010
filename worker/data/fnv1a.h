// FNV-1a 64-bit hash: stable across platforms and releases, so it can decide the
// train/val split of a corpus and checksum checkpoint files.
#ifndef GWO_WORKER_DATA_FNV1A_H_
#define GWO_WORKER_DATA_FNV1A_H_

#include <cstdint>
#include <string_view>

namespace gwo::data {

inline constexpr uint64_t kFnv1a64Offset = 14695981039346656037ull;

// Continues the hash `h` (start with kFnv1a64Offset) over `bytes`.
constexpr uint64_t Fnv1a64Update(uint64_t h, std::string_view bytes) {
  for (const char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

constexpr uint64_t Fnv1a64(std::string_view bytes) { return Fnv1a64Update(kFnv1a64Offset, bytes); }

}  // namespace gwo::data

#endif  // GWO_WORKER_DATA_FNV1A_H_
