#include "common/utf8.h"

#include "absl/strings/str_format.h"

namespace gwo {
namespace {

// The number of bytes of the UTF-8 sequence that `lead` starts; 0 if it starts none.
int SequenceLength(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;  // a continuation byte, an overlong lead (0xC0, 0xC1) or beyond U+10FFFF
}

}  // namespace

namespace {

// The length of the valid UTF-8 sequence at text[i], or 0 with `*why` saying what is wrong.
int CheckSequenceAt(absl::string_view text, size_t i, std::string* why) {
  const auto lead = static_cast<unsigned char>(text[i]);
  const int n = SequenceLength(lead);
  if (n == 0) {
    *why = absl::StrFormat("byte 0x%02x cannot start a character", lead);
    return 0;
  }
  if (i + n > text.size()) {
    *why = absl::StrFormat("the character that byte 0x%02x starts is cut off", lead);
    return 0;
  }
  for (int k = 1; k < n; ++k) {
    const auto c = static_cast<unsigned char>(text[i + k]);
    if ((c & 0xC0) != 0x80) {
      *why = absl::StrFormat("byte 0x%02x after 0x%02x is not a continuation byte", c, lead);
      return 0;
    }
  }
  const auto second = static_cast<unsigned char>(n > 1 ? text[i + 1] : 0);
  if ((lead == 0xE0 && second < 0xA0) || (lead == 0xF0 && second < 0x90)) {
    *why = "an overlong encoding";
  } else if (lead == 0xED && second >= 0xA0) {
    *why = "a UTF-16 surrogate (U+D800..U+DFFF)";
  } else if (lead == 0xF4 && second >= 0x90) {
    *why = "a code point beyond U+10FFFF";
  } else {
    return n;
  }
  return 0;
}

}  // namespace

size_t Utf8SequenceLength(absl::string_view text, size_t i) {
  std::string ignored;
  return static_cast<size_t>(CheckSequenceAt(text, i, &ignored));
}

std::optional<Utf8Error> FindInvalidUtf8(absl::string_view text) {
  int line = 0, column = 0;
  std::string why;
  for (size_t i = 0; i < text.size();) {
    const int n = CheckSequenceAt(text, i, &why);
    if (n == 0) return Utf8Error{i, line, column, why};
    if (text[i] == '\n') {
      ++line;
      column = 0;
    } else {
      ++column;
    }
    i += n;
  }
  return std::nullopt;
}

}  // namespace gwo
