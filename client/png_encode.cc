#include "client/png_encode.h"

#include <zlib.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace gwo::client {
namespace {

void PutU32(std::string* out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>((v >> shift) & 0xFF));
}

// Length, type, data, then the CRC-32 of type and data (PNG spec, section 5.3).
void PutChunk(std::string* out, const char type[4], const std::string& data) {
  PutU32(out, static_cast<uint32_t>(data.size()));
  const size_t start = out->size();
  out->append(type, 4);
  out->append(data);
  const uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(out->data() + start), static_cast<uInt>(out->size() - start));
  PutU32(out, static_cast<uint32_t>(crc));
}

}  // namespace

absl::StatusOr<std::string> EncodePng(int width, int height, const std::vector<uint8_t>& rgb) {
  if (width < 1 || height < 1) {
    return absl::InvalidArgumentError(absl::StrCat("PNG size must be at least 1x1, got ", width, "x", height));
  }
  const size_t row = static_cast<size_t>(width) * 3;
  if (rgb.size() != row * height) {
    return absl::InvalidArgumentError(
        absl::StrCat("PNG pixels: expected ", row * height, " bytes (", width, "x", height, " RGB), got ", rgb.size()));
  }
  // Scanlines, each led by its filter type (0: none).
  std::string raw;
  raw.reserve((row + 1) * height);
  for (int y = 0; y < height; ++y) {
    raw.push_back(0);
    raw.append(reinterpret_cast<const char*>(rgb.data()) + y * row, row);
  }
  uLongf packed_size = compressBound(raw.size());
  std::string packed(packed_size, '\0');
  const int z = compress2(reinterpret_cast<Bytef*>(packed.data()), &packed_size, reinterpret_cast<const Bytef*>(raw.data()),
                          raw.size(), Z_DEFAULT_COMPRESSION);
  if (z != Z_OK) return absl::InternalError(absl::StrCat("zlib compress2 failed with code ", z));
  packed.resize(packed_size);

  std::string png("\x89PNG\r\n\x1a\n", 8);
  std::string ihdr;
  PutU32(&ihdr, width);
  PutU32(&ihdr, height);
  ihdr += std::string("\x08\x02\x00\x00\x00", 5);  // bit depth 8, RGB, deflate, adaptive filters, no interlace
  PutChunk(&png, "IHDR", ihdr);
  PutChunk(&png, "IDAT", packed);
  PutChunk(&png, "IEND", "");
  return png;
}

}  // namespace gwo::client
