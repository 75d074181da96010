// A minimal PNG reader for tests: checks the signature, each chunk's CRC-32
// (computed bit by bit here, independently of zlib's table), IHDR, and inflates
// IDAT with zlib, undoing all five scanline filters. 8-bit RGB only, which is
// what gwoctl writes.
#ifndef GWO_TESTS_CLIENT_PNG_READER_H_
#define GWO_TESTS_CLIENT_PNG_READER_H_

#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "client/chart.h"

namespace gwo::client::testing {

struct DecodedPng {
  std::string error;                // empty when the file decoded
  std::vector<std::string> chunks;  // chunk types in file order
  uint32_t width = 0, height = 0;
  int bit_depth = 0, color_type = 0, interlace = 0;
  std::vector<uint8_t> rgb;  // (height, width, 3)
  Rgb At(int x, int y) const {
    const uint8_t* p = &rgb[(static_cast<size_t>(y) * width + x) * 3];
    return {p[0], p[1], p[2]};
  }
};

inline uint32_t BitwiseCrc32(const std::string& bytes) {
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char c : bytes) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

inline uint32_t ReadU32(const std::string& s, size_t at) {
  return (uint32_t(uint8_t(s[at])) << 24) | (uint32_t(uint8_t(s[at + 1])) << 16) | (uint32_t(uint8_t(s[at + 2])) << 8) |
         uint32_t(uint8_t(s[at + 3]));
}

inline DecodedPng DecodePng(const std::string& file) {
  DecodedPng png;
  if (file.compare(0, 8, std::string("\x89PNG\r\n\x1a\n", 8)) != 0) return png.error = "bad signature", png;
  std::string idat;
  size_t at = 8;
  while (at + 12 <= file.size()) {
    const uint32_t len = ReadU32(file, at);
    if (at + 12 + len > file.size()) return png.error = "truncated chunk", png;
    const std::string type_and_data = file.substr(at + 4, 4 + len);
    if (BitwiseCrc32(type_and_data) != ReadU32(file, at + 8 + len)) {
      return png.error = "bad CRC in " + type_and_data.substr(0, 4), png;
    }
    png.chunks.push_back(type_and_data.substr(0, 4));
    const std::string data = type_and_data.substr(4);
    if (png.chunks.back() == "IHDR") {
      if (data.size() != 13) return png.error = "IHDR must have 13 bytes", png;
      png.width = ReadU32(data, 0), png.height = ReadU32(data, 4);
      png.bit_depth = uint8_t(data[8]), png.color_type = uint8_t(data[9]), png.interlace = uint8_t(data[12]);
    } else if (png.chunks.back() == "IDAT") {
      idat += data;
    }
    at += 12 + len;
  }
  if (at != file.size()) return png.error = "trailing bytes after the last chunk", png;
  if (png.bit_depth != 8 || png.color_type != 2 || png.interlace != 0) return png.error = "not 8-bit RGB", png;
  const size_t stride = size_t(png.width) * 3;
  std::vector<uint8_t> raw((stride + 1) * png.height);
  uLongf raw_size = raw.size();
  if (uncompress(raw.data(), &raw_size, reinterpret_cast<const Bytef*>(idat.data()), idat.size()) != Z_OK ||
      raw_size != raw.size()) {
    return png.error = "IDAT does not inflate to height * (1 + 3 * width) bytes", png;
  }
  png.rgb.resize(stride * png.height);
  for (size_t y = 0; y < png.height; ++y) {
    const uint8_t filter = raw[y * (stride + 1)];
    const uint8_t* in = &raw[y * (stride + 1) + 1];
    uint8_t* out = &png.rgb[y * stride];
    const uint8_t* up = y > 0 ? out - stride : nullptr;
    for (size_t i = 0; i < stride; ++i) {
      const int a = i >= 3 ? out[i - 3] : 0, b = up ? up[i] : 0, c = (up && i >= 3) ? up[i - 3] : 0;
      int pred = 0;
      switch (filter) {
        case 0: pred = 0; break;
        case 1: pred = a; break;
        case 2: pred = b; break;
        case 3: pred = (a + b) / 2; break;
        case 4: {
          const int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
          pred = (pa <= pb && pa <= pc) ? a : pb <= pc ? b : c;
          break;
        }
        default: return png.error = "unknown filter type " + std::to_string(filter), png;
      }
      out[i] = static_cast<uint8_t>(in[i] + pred);
    }
  }
  return png;
}

}  // namespace gwo::client::testing

#endif  // GWO_TESTS_CLIENT_PNG_READER_H_
