// A 5x7 bitmap font (printable ASCII, with 2-row descenders) for text in raster
// charts. Pure data and lookups; no drawing.
#ifndef GWO_CLIENT_BITMAP_FONT_H_
#define GWO_CLIENT_BITMAP_FONT_H_

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

namespace gwo::client {

inline constexpr int kGlyphWidth = 5;    // ink columns per glyph
inline constexpr int kGlyphAscent = 7;   // rows above the baseline
inline constexpr int kGlyphDescent = 2;  // rows below it (g, j, p, q, y, comma, ...)
inline constexpr int kGlyphAdvance = 6;  // columns from one glyph to the next

// Rows top down: rows[0] is the top row (kGlyphAscent rows above the baseline),
// rows[kGlyphAscent] the first below it. Bit (kGlyphWidth - 1 - col) of a row is
// the pixel in column col, col 0 leftmost.
struct Glyph {
  std::array<uint8_t, kGlyphAscent + kGlyphDescent> rows{};
  bool Ink(int col, int row) const { return (rows[row] >> (kGlyphWidth - 1 - col)) & 1; }
};

// The glyphs of UTF-8 `text`, one per character: printable ASCII has its own,
// anything else (control bytes, each multi-byte character) a hollow box.
std::vector<const Glyph*> GlyphsOf(std::string_view text);

// Width in font pixels of `text` as drawn: from the first glyph's left edge to
// the last one's right edge; 0 for empty text.
int TextWidth(std::string_view text);

}  // namespace gwo::client

#endif  // GWO_CLIENT_BITMAP_FONT_H_
