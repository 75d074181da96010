// The bitmap font's metrics and the supersampling rasteriser's coverage.
#include "client/raster.h"

#include "client/bitmap_font.h"
#include "gtest/gtest.h"

namespace gwo::client {
namespace {

Rgb PixelAt(const std::vector<uint8_t>& rgb, int width, int x, int y) {
  const uint8_t* p = &rgb[(static_cast<size_t>(y) * width + x) * 3];
  return {p[0], p[1], p[2]};
}

TEST(BitmapFontTest, OneGlyphPerCharacterAndABoxForTheRest) {
  EXPECT_EQ(TextWidth(""), 0);
  EXPECT_EQ(TextWidth("a"), 5);
  EXPECT_EQ(TextWidth("ab"), 11);
  ASSERT_EQ(GlyphsOf("\xC2\xB1" "1").size(), 2u);  // "±1": the 2-byte character is one glyph
  const Glyph* box = GlyphsOf("\xC2\xB1")[0];
  EXPECT_EQ(GlyphsOf("\t")[0], box);
  EXPECT_NE(GlyphsOf("?")[0], box);
  // 'T': full top row, then the stem in the middle column; nothing below the baseline.
  const Glyph* t = GlyphsOf("T")[0];
  for (int col = 0; col < kGlyphWidth; ++col) EXPECT_TRUE(t->Ink(col, 0));
  EXPECT_TRUE(t->Ink(2, 6));
  EXPECT_FALSE(t->Ink(1, 6));
  EXPECT_FALSE(t->Ink(2, kGlyphAscent));
  // 'g' descends below the baseline; every printable glyph but space has ink.
  EXPECT_NE(GlyphsOf("g")[0]->rows[kGlyphAscent], 0);
  for (char c = '!'; c <= '~'; ++c) {
    const Glyph* g = GlyphsOf(std::string(1, c))[0];
    int ink = 0;
    for (uint8_t row : g->rows) ink += row;
    EXPECT_GT(ink, 0) << c;
  }
}

TEST(CanvasTest, CoverageIsTheFractionOfSamplesInside) {
  Canvas canvas(4, 2, {255, 255, 255}, 2);
  canvas.FillRect({0, 0, 1, 1}, {0, 0, 0});    // pixel (0, 0) fully
  canvas.FillRect({1, 0, 0.5, 1}, {0, 0, 0});  // left half of pixel (1, 0)
  canvas.FillPolygon({{2, 0}, {4, 0}, {4, 2}, {2, 2}}, {0, 0, 255}, 0.5);  // pixels x 2..3, half opacity
  canvas.StrokePolyline({{0, 1.5}, {2, 1.5}}, {255, 0, 0}, 1);  // row 1, x 0..1 (round caps spill half a pixel)
  std::vector<uint8_t> rgb = canvas.Resolve();
  EXPECT_EQ(PixelAt(rgb, 4, 0, 0), (Rgb{0, 0, 0}));
  EXPECT_EQ(PixelAt(rgb, 4, 1, 0), (Rgb{128, 128, 128}));
  EXPECT_EQ(PixelAt(rgb, 4, 3, 0), (Rgb{128, 128, 255}));
  EXPECT_EQ(PixelAt(rgb, 4, 0, 1), (Rgb{255, 0, 0}));
  EXPECT_EQ(PixelAt(rgb, 4, 1, 1), (Rgb{255, 0, 0}));
  // The round cap covers the left 2 of pixel (2, 1)'s 4 samples, over the blended blue.
  EXPECT_EQ(PixelAt(rgb, 4, 2, 1), (Rgb{192, 64, 128}));
}

}  // namespace
}  // namespace gwo::client
