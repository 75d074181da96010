#include "client/png_plot.h"

#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "client/bitmap_font.h"
#include "client/png_encode.h"
#include "client/raster.h"

namespace gwo::client {
namespace {

constexpr Rgb kTextColor{0, 0, 0};  // SVG's default fill

// Draws `t` in the bitmap font, one font pixel per canvas pixel; sizes above 12
// are drawn bold (each ink pixel doubled to the right). The origin snaps to whole
// pixels so glyphs stay crisp.
void DrawText(Canvas& canvas, const ChartText& t) {
  const int bold = t.size > 12 ? 1 : 0;
  const int width = TextWidth(t.text) + bold;
  const int u0 = t.anchor == TextAnchor::kStart ? 0 : t.anchor == TextAnchor::kMiddle ? -width / 2 : -width;
  const double ox = std::round(t.at.x), oy = std::round(t.at.y);
  int k = 0;
  for (const Glyph* g : GlyphsOf(t.text)) {
    for (int row = 0; row < kGlyphAscent + kGlyphDescent; ++row) {
      for (int col = 0; col < kGlyphWidth; ++col) {
        if (!g->Ink(col, row)) continue;
        // In text coordinates: u along the baseline, v down from it.
        const double u = u0 + k * kGlyphAdvance + col, v = row - kGlyphAscent, du = 1 + bold;
        // Rotating by -90 degrees maps (u, v) to (v, -u).
        canvas.FillRect(t.vertical ? CanvasRect{ox + v, oy - u - du, 1, du} : CanvasRect{ox + u, oy + v, du, 1},
                        kTextColor);
      }
    }
    ++k;
  }
}

}  // namespace

absl::StatusOr<std::string> RenderPng(const PlotSpec& spec) {
  if (spec.width < 1 || spec.width > kMaxPngSide || spec.height < 1 || spec.height > kMaxPngSide) {
    return absl::InvalidArgumentError(absl::StrCat("plot size must be within 1..", kMaxPngSide, " pixels per side, got ",
                                                   spec.width, "x", spec.height));
  }
  const ChartLayout c = LayoutChart(spec);
  Canvas canvas(c.width, c.height, c.background);
  DrawText(canvas, c.title);
  const CanvasRect& a = c.plot_area;
  for (const ChartSegment& g : c.grid) canvas.StrokePolyline({g.a, g.b}, c.grid_color, 1);
  canvas.StrokePolyline({{a.x, a.y}, {a.x + a.w, a.y}, {a.x + a.w, a.y + a.h}, {a.x, a.y + a.h}, {a.x, a.y}},
                        c.frame_color, 1);
  for (const ChartText& t : c.tick_labels) DrawText(canvas, t);
  DrawText(canvas, c.x_label);
  DrawText(canvas, c.y_label);
  for (const ChartBand& b : c.bands) canvas.FillPolygon(b.outline, b.color, b.opacity);
  for (const ChartRun& r : c.runs) canvas.StrokePolyline(r.points, r.color, r.width);
  for (const ChartLegendEntry& e : c.legend) {
    canvas.FillRect(e.swatch, e.color);
    DrawText(canvas, e.label);
  }
  return EncodePng(c.width, c.height, canvas.Resolve());
}

}  // namespace gwo::client
