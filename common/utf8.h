// UTF-8 validation with a position a person can find in an editor.
#ifndef GWO_COMMON_UTF8_H_
#define GWO_COMMON_UTF8_H_

#include <cstddef>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace gwo {

// The first byte that breaks UTF-8: its offset, line and column (0-based; the column
// counts characters), and what is wrong ("byte 0xff cannot start a character").
struct Utf8Error {
  size_t offset = 0;
  int line = 0;
  int column = 0;
  std::string what;
};

// The length (1-4) of the valid UTF-8 sequence that starts at text[i], or 0 when the
// bytes there are not one (the same rules as FindInvalidUtf8). `i` < text.size().
size_t Utf8SequenceLength(absl::string_view text, size_t i);

// nullopt when `text` is valid UTF-8 (no overlong forms, surrogates or code points
// beyond U+10FFFF).
std::optional<Utf8Error> FindInvalidUtf8(absl::string_view text);

}  // namespace gwo

#endif  // GWO_COMMON_UTF8_H_
