#include "worker/data/pretokenize.h"

#include <array>
#include <cstddef>
#include <cstdint>

#include "unicode/uchar.h"

namespace gwo::data {

const char kGpt2PatternRegex[] =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
const char kQwen2PatternRegex[] =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

namespace {

CharClass IcuClass(UChar32 cp) {
  if (u_isUWhiteSpace(cp)) return cp == '\r' || cp == '\n' ? CharClass::kNewline : CharClass::kSpace;
  switch (u_charType(cp)) {
    case U_UPPERCASE_LETTER:
    case U_LOWERCASE_LETTER:
    case U_TITLECASE_LETTER:
    case U_MODIFIER_LETTER:
    case U_OTHER_LETTER:
      return CharClass::kLetter;
    case U_DECIMAL_DIGIT_NUMBER:
    case U_LETTER_NUMBER:
    case U_OTHER_NUMBER:
      return CharClass::kNumber;
    default:
      return CharClass::kOther;
  }
}

// Classes of the Basic Multilingual Plane, built once (65536 ICU look-ups, ~1 ms):
// most non-ASCII text then costs one array read per character.
const std::array<CharClass, 0x10000>& BmpClasses() {
  static const auto* const table = [] {
    auto* t = new std::array<CharClass, 0x10000>;
    for (UChar32 cp = 0; cp < 0x10000; ++cp) (*t)[cp] = IcuClass(cp);
    return t;
  }();
  return *table;
}

constexpr std::array<CharClass, 128> kAsciiClasses = [] {
  std::array<CharClass, 128> t{};
  for (int c = 0; c < 128; ++c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      t[c] = CharClass::kLetter;
    } else if (c >= '0' && c <= '9') {
      t[c] = CharClass::kNumber;
    } else if (c == '\r' || c == '\n') {
      t[c] = CharClass::kNewline;
    } else if (c == ' ' || c == '\t' || c == '\v' || c == '\f') {
      t[c] = CharClass::kSpace;
    } else {
      t[c] = CharClass::kOther;
    }
  }
  return t;
}();

struct Char {
  CharClass cls;
  uint32_t len;  // bytes
};

inline bool IsCont(uint8_t b) { return (b & 0xC0) == 0x80; }

// Decodes one well-formed UTF-8 sequence (no overlongs, surrogates or values past
// U+10FFFF); anything else is a one-byte character of class kOther.
Char DecodeNonAscii(const uint8_t* p, const uint8_t* end) {
  const uint8_t b0 = p[0];
  const ptrdiff_t avail = end - p;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    if (avail >= 2 && IsCont(p[1])) {
      return {BmpClasses()[((b0 & 0x1F) << 6) | (p[1] & 0x3F)], 2};
    }
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (avail >= 3 && IsCont(p[1]) && IsCont(p[2])) {
      const bool ok = (b0 == 0xE0) ? p[1] >= 0xA0 : (b0 == 0xED) ? p[1] <= 0x9F : true;
      if (ok) {
        return {BmpClasses()[((b0 & 0x0F) << 12) | ((p[1] & 0x3F) << 6) | (p[2] & 0x3F)], 3};
      }
    }
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (avail >= 4 && IsCont(p[1]) && IsCont(p[2]) && IsCont(p[3])) {
      const bool ok = (b0 == 0xF0) ? p[1] >= 0x90 : (b0 == 0xF4) ? p[1] <= 0x8F : true;
      if (ok) {
        const UChar32 cp = ((b0 & 0x07) << 18) | ((p[1] & 0x3F) << 12) | ((p[2] & 0x3F) << 6) | (p[3] & 0x3F);
        return {IcuClass(cp), 4};
      }
    }
  }
  return {CharClass::kOther, 1};
}

inline Char At(const uint8_t* s, size_t n, size_t i) {
  const uint8_t b = s[i];
  if (b < 0x80) return {kAsciiClasses[b], 1};
  return DecodeNonAscii(s + i, s + n);
}

inline bool IsSpace(CharClass c) { return c == CharClass::kSpace || c == CharClass::kNewline; }

// End of the run of characters of class `cls` starting at i.
inline size_t RunEnd(const uint8_t* s, size_t n, size_t i, CharClass cls) {
  while (i < n) {
    const Char c = At(s, n, i);
    if (c.cls != cls) break;
    i += c.len;
  }
  return i;
}

// [\r\n]*
inline size_t NewlinesEnd(const uint8_t* s, size_t n, size_t i) {
  while (i < n && (s[i] == '\r' || s[i] == '\n')) ++i;
  return i;
}

// At a whitespace character i: `\s*[\r\n]+` (only if `newline_alternative`), then
// `\s+(?!\S)`, then `\s+`.
size_t WhitespaceEnd(const uint8_t* s, size_t n, size_t i, bool newline_alternative) {
  size_t j = i;
  size_t last_start = i;
  size_t newline_end = 0;  // after the last \r or \n of the run; 0: none
  int chars = 0;
  while (j < n) {
    const Char c = At(s, n, j);
    if (!IsSpace(c.cls)) break;
    if (c.cls == CharClass::kNewline) newline_end = j + 1;
    last_start = j;
    j += c.len;
    ++chars;
  }
  // \s* backtracks to the last newline, which [\r\n]+ then takes.
  if (newline_alternative && newline_end != 0) return newline_end;
  // \s+(?!\S): the whole run at the end of the text; before a non-space, the run
  // less its last character (which is left for ` ?\p{L}+` and friends) if that is
  // not empty; else \s+ takes the single character.
  if (j == n || chars == 1) return j;
  return last_start;
}

// 's|'t|'re|'ve|'m|'ll|'d (case-sensitive), at an apostrophe; 0 if none matches.
inline size_t ContractionEnd(const uint8_t* s, size_t n, size_t i) {
  if (i + 1 >= n) return 0;
  const uint8_t a = s[i + 1];
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
  if (i + 2 >= n) return 0;
  const uint8_t b = s[i + 2];
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return i + 3;
  return 0;
}

inline uint8_t Lower(uint8_t c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

// (?i:'s|'t|'re|'ve|'m|'ll|'d): ASCII letters in either case, and U+017F (long s),
// which Unicode case folding equates with s.
inline size_t ContractionEndIgnoreCase(const uint8_t* s, size_t n, size_t i) {
  if (i + 1 >= n) return 0;
  const uint8_t a = Lower(s[i + 1]);
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
  if (i + 2 >= n) return 0;
  if (s[i + 1] == 0xC5 && s[i + 2] == 0xBF) return i + 3;  // ſ
  const uint8_t b = Lower(s[i + 2]);
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return i + 3;
  return 0;
}

size_t NextGpt2(const uint8_t* s, size_t n, size_t i) {
  if (s[i] == '\'') {
    if (const size_t e = ContractionEnd(s, n, i); e != 0) return e;
  }
  const Char c = At(s, n, i);
  if (!IsSpace(c.cls)) return RunEnd(s, n, i + c.len, c.cls);  // \p{L}+ | \p{N}+ | [^\s\p{L}\p{N}]+
  if (s[i] == ' ' && i + 1 < n) {                              // " ?" before one of those
    const Char d = At(s, n, i + 1);
    if (!IsSpace(d.cls)) return RunEnd(s, n, i + 1 + d.len, d.cls);
  }
  return WhitespaceEnd(s, n, i, /*newline_alternative=*/false);
}

size_t NextQwen2(const uint8_t* s, size_t n, size_t i) {
  if (s[i] == '\'') {
    if (const size_t e = ContractionEndIgnoreCase(s, n, i); e != 0) return e;
  }
  const Char c = At(s, n, i);
  if (c.cls == CharClass::kLetter) return RunEnd(s, n, i + c.len, CharClass::kLetter);
  if (c.cls == CharClass::kNumber) return i + c.len;  // \p{N}: one digit at a time
  // [^\r\n\p{L}\p{N}]?\p{L}+: one symbol or non-newline space glued to a word.
  if (c.cls != CharClass::kNewline && i + c.len < n) {
    const Char d = At(s, n, i + c.len);
    if (d.cls == CharClass::kLetter) return RunEnd(s, n, i + c.len + d.len, CharClass::kLetter);
  }
  //  ?[^\s\p{L}\p{N}]+[\r\n]*
  if (c.cls == CharClass::kOther) return NewlinesEnd(s, n, RunEnd(s, n, i + c.len, CharClass::kOther));
  if (s[i] == ' ' && i + 1 < n) {
    const Char d = At(s, n, i + 1);
    if (d.cls == CharClass::kOther) {
      return NewlinesEnd(s, n, RunEnd(s, n, i + 1 + d.len, CharClass::kOther));
    }
  }
  return WhitespaceEnd(s, n, i, /*newline_alternative=*/true);
}

}  // namespace

CharClass ClassOf(char32_t code_point) {
  if (code_point < 0x80) return kAsciiClasses[code_point];
  if (code_point < 0x10000) return BmpClasses()[code_point];
  return code_point <= 0x10FFFF ? IcuClass(static_cast<UChar32>(code_point)) : CharClass::kOther;
}

void Pretokenize(PretokenizePattern pattern, std::string_view text,
                 absl::FunctionRef<void(size_t begin, size_t end)> on_piece) {
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  if (pattern == PretokenizePattern::kGpt2) {
    while (i < n) {
      const size_t j = NextGpt2(s, n, i);
      on_piece(i, j);
      i = j;
    }
  } else {
    while (i < n) {
      const size_t j = NextQwen2(s, n, i);
      on_piece(i, j);
      i = j;
    }
  }
}

}  // namespace gwo::data
