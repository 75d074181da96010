// The PNG back end: a decodable file of the chart's size whose pixels show the
// layout (run lines in their colours, alpha-blended seed bands, legend, text)
// on the background.
#include "client/png_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "client/bitmap_font.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/png_reader.h"

namespace gwo::client {
namespace {

using testing::DecodedPng;
using testing::DecodePng;

constexpr Rgb kWhite{255, 255, 255};
constexpr Rgb kBlue{0x00, 0x72, 0xB2};    // first palette colour
constexpr Rgb kOrange{0xD5, 0x5E, 0x00};  // second

int Diff(Rgb a, Rgb b) { return std::max({std::abs(a.r - b.r), std::abs(a.g - b.g), std::abs(a.b - b.b)}); }

// 400 x 196: the plot area is x in [80, 200) and y in [40, 140), the data span
// x in [0, 10] and y in [0, 2], so px(x) = 80 + 12 x and py(y) = 140 - 50 y.
// Group "a" (blue): two seeds, flat at y = 0.49 and 1.51, i.e. on the pixel
// centres of rows 115 and 64, with a band of mean 1 ± 0.721 (rows 54 to 126).
// Group "b" (orange): one run, the diagonal from (0, 0) to (10, 2).
PlotSpec KnownChart() {
  PlotSpec spec;
  spec.title = "exp-1: val_loss";
  spec.y_label = "val_loss";
  spec.width = 400;
  spec.height = 196;
  std::vector<std::vector<PlotPoint>> a = {{{0, 0.49}, {10, 0.49}}, {{0, 1.51}, {10, 1.51}}};
  spec.groups.push_back({"a", a, SeedBand(a, 5)});
  spec.groups.push_back({"b", {{{0, 0}, {10, 2}}}, {}});
  return spec;
}

DecodedPng Render(const PlotSpec& spec) {
  absl::StatusOr<std::string> png = RenderPng(spec);
  EXPECT_TRUE(png.ok()) << png.status();
  return png.ok() ? DecodePng(*png) : DecodedPng{"render failed"};
}

TEST(PngPlotTest, FileDecodesWithValidChunksAndTheChartSize) {
  DecodedPng png = Render(KnownChart());
  ASSERT_EQ(png.error, "");
  EXPECT_THAT(png.chunks, ::testing::ElementsAre("IHDR", "IDAT", "IEND"));
  EXPECT_EQ(png.width, 400u);
  EXPECT_EQ(png.height, 196u);
  EXPECT_EQ(png.rgb.size(), 400u * 196u * 3u);
}

TEST(PngPlotTest, TheLayoutPutsTheTestLinesOnPixelCentres) {
  // The premise of the pixel tests below, checked against the shared layout.
  ChartLayout c = LayoutChart(KnownChart());
  ASSERT_EQ(c.runs.size(), 3u);
  EXPECT_NEAR(c.runs[0].points[0].y, 115.5, 1e-9);
  EXPECT_NEAR(c.runs[1].points[0].y, 64.5, 1e-9);
  EXPECT_NEAR(c.runs[2].points[1].x, 200, 1e-9);
  EXPECT_NEAR(c.runs[2].points[1].y, 40, 1e-9);
}

TEST(PngPlotTest, RunsHaveTheirGroupColourAndTheBandIsBlendedWithAlpha) {
  DecodedPng png = Render(KnownChart());
  ASSERT_EQ(png.error, "");
  for (int x : {90, 131, 190}) {  // along both flat seed lines
    EXPECT_EQ(png.At(x, 115), kBlue) << "x=" << x;
    EXPECT_EQ(png.At(x, 64), kBlue) << "x=" << x;
  }
  // Inside the band, away from lines and grid: white under blue at 20%.
  const Rgb band{204, 227, 240};  // 255 + (c - 255) * 0.2, rounded
  EXPECT_LE(Diff(png.At(131, 80), band), 1);
  EXPECT_LE(Diff(png.At(190, 120), band), 1);
  // Background: below the band inside the plot, and the empty right margin.
  EXPECT_EQ(png.At(131, 135), kWhite);
  EXPECT_EQ(png.At(390, 190), kWhite);
  EXPECT_EQ(png.At(300, 150), kWhite);
  // Legend swatches (14 x 4 at x = 214, y = 46 and 66).
  EXPECT_EQ(png.At(220, 47), kBlue);
  EXPECT_EQ(png.At(220, 67), kOrange);
}

TEST(PngPlotTest, DiagonalRunIsAntiAliased) {
  DecodedPng png = Render(KnownChart());
  ASSERT_EQ(png.error, "");
  // Column 131 (centre x = 131.5) meets the diagonal at y = 140 - 51.5 / 120 * 100 = 97.08.
  const Rgb band{204, 227, 240};
  int best = 255, partial = 0;
  for (int y = 93; y <= 101; ++y) {
    const Rgb p = png.At(131, y);
    best = std::min(best, Diff(p, kOrange));
    if (Diff(p, kOrange) > 8 && Diff(p, band) > 8) ++partial;  // neither line nor band: an edge pixel
  }
  EXPECT_LE(best, Diff(band, kOrange) / 3) << "no pixel mostly covered by the line";
  EXPECT_GE(partial, 1) << "no partially covered pixel: not anti-aliased";
  EXPECT_LE(Diff(png.At(131, 93), band), 1) << "the line is thin";
}

TEST(PngPlotTest, TextIsDrawnInTheBitmapFont) {
  PlotSpec spec = KnownChart();
  DecodedPng png = Render(spec);
  ASSERT_EQ(png.error, "");
  auto black_in = [&](int x0, int y0, int x1, int y1) {
    int n = 0;
    for (int y = y0; y < y1; ++y) {
      for (int x = x0; x < x1; ++x) n += png.At(x, y) == Rgb{0, 0, 0};
    }
    return n;
  };
  // Title: baseline y = 24 from x = 80, 7 rows of ascent, bold (one extra column).
  const int title_end = 80 + TextWidth(spec.title) + 1;
  EXPECT_GT(black_in(80, 17, title_end, 24), 40);
  EXPECT_EQ(black_in(title_end, 10, 400, 34), 0);
  // y label: rotated, its baseline the column x = 18, centred on y = 90: ink in
  // columns 11..17, spread vertically over the label's length.
  const int half = TextWidth(spec.y_label) / 2;
  EXPECT_GT(black_in(11, 90 - half, 18, 90 + half + 1), 20);
  EXPECT_EQ(black_in(0, 0, 11, 196), 0);
  EXPECT_EQ(black_in(11, 0, 18, 90 - half - 1), 0);
}

TEST(PngPlotTest, EmptyChartAndBadSizes) {
  PlotSpec empty;
  DecodedPng png = Render(empty);
  ASSERT_EQ(png.error, "");
  EXPECT_EQ(png.width, 900u);
  EXPECT_EQ(png.height, 520u);
  PlotSpec bad;
  bad.width = 0;
  absl::StatusOr<std::string> r = RenderPng(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), ::testing::HasSubstr("plot size must be within 1..8192"));
}

}  // namespace
}  // namespace gwo::client
