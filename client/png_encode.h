// PNG encoding of an 8-bit RGB image (colour type 2, no interlace): signature,
// IHDR, one IDAT (zlib deflate of the unfiltered scanlines), IEND; every chunk
// with its CRC-32. Pure; no I/O.
#ifndef GWO_CLIENT_PNG_ENCODE_H_
#define GWO_CLIENT_PNG_ENCODE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace gwo::client {

// The PNG file's bytes for `rgb`: width * height RGB triples, rows top down.
// InvalidArgument when a dimension is not in [1, 2^31) or rgb has the wrong size;
// Internal when zlib fails.
absl::StatusOr<std::string> EncodePng(int width, int height, const std::vector<uint8_t>& rgb);

}  // namespace gwo::client

#endif  // GWO_CLIENT_PNG_ENCODE_H_
