// The chart model shared by the SVG and PNG back ends: the data (PlotSpec) and
// its layout in canvas pixels (ChartLayout: axes, ticks, labels, seed bands, run
// lines, legend). Back ends only draw a ChartLayout, so they cannot drift apart.
// Pure; no I/O.
#ifndef GWO_CLIENT_CHART_H_
#define GWO_CLIENT_CHART_H_

#include <cstdint>
#include <string>
#include <vector>

namespace gwo::client {

struct PlotPoint {
  double x = 0;
  double y = 0;
};

struct BandPoint {
  double x = 0;
  double mean = 0;
  double std = 0;
};

struct PlotGroup {
  std::string label;                          // legend text, e.g. "gwo / brown"
  std::vector<std::vector<PlotPoint>> lines;  // one per run, x ascending
  std::vector<BandPoint> band;                // empty: no band (a single seed)
};

struct PlotSpec {
  std::string title;
  std::string x_label = "step";
  std::string y_label;
  bool log_y = false;  // log10 axis; non-positive values are dropped
  int width = 900;     // canvas size in pixels
  int height = 520;
  std::vector<PlotGroup> groups;  // colours by position
};

// Mean ± sample std (n-1) across `lines` at `samples` evenly spaced x in the range
// all lines cover (linear interpolation). Empty when fewer than 2 lines or the
// lines do not overlap.
std::vector<BandPoint> SeedBand(const std::vector<std::vector<PlotPoint>>& lines, int samples = 200);

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Rgb&) const = default;
};

// A position on the canvas in pixels: (0, 0) is the top-left corner of the
// top-left pixel, y grows downwards (SVG user units).
struct CanvasPoint {
  double x = 0;
  double y = 0;
};

struct CanvasRect {
  double x = 0, y = 0, w = 0, h = 0;  // top-left corner and size
};

enum class TextAnchor { kStart, kMiddle, kEnd };

struct ChartText {
  CanvasPoint at;  // the anchor point, on the baseline
  std::string text;
  TextAnchor anchor = TextAnchor::kStart;
  int size = 12;          // font size in pixels
  bool vertical = false;  // rotated -90 degrees about `at`: reads bottom to top
};

struct ChartSegment {
  CanvasPoint a, b;
};

struct ChartBand {
  std::vector<CanvasPoint> outline;  // closed polygon: upper edge left to right, lower edge back
  Rgb color;
  double opacity = 0.2;
};

struct ChartRun {
  std::vector<CanvasPoint> points;  // finite points only; may be empty
  Rgb color;
  double width = 1.2;  // stroke width in pixels
};

struct ChartLegendEntry {
  CanvasRect swatch;
  Rgb color;
  ChartText label;
};

struct ChartLayout {
  int width = 0, height = 0;
  Rgb background{255, 255, 255};
  ChartText title;
  CanvasRect plot_area;                // framed with a 1-pixel stroke, drawn over the grid
  Rgb frame_color{0x88, 0x88, 0x88};
  std::vector<ChartSegment> grid;      // 1-pixel lines at the ticks, under the frame and the data
  Rgb grid_color{0xee, 0xee, 0xee};
  std::vector<ChartText> tick_labels;  // x ticks (middle-anchored), then y ticks (end-anchored)
  ChartText x_label, y_label;          // y_label is vertical
  std::vector<ChartBand> bands;        // drawn before every run
  std::vector<ChartRun> runs;          // one per run, in group order
  std::vector<ChartLegendEntry> legend;  // one per group
};

// Lays `spec` out on a spec.width x spec.height canvas. Non-finite points (and,
// with log_y, non-positive ones) are skipped; with no finite point at all the
// axes span [0, 1]. Colours are assigned to groups by position (a colour-blind-safe
// palette, cycled).
ChartLayout LayoutChart(const PlotSpec& spec);

}  // namespace gwo::client

#endif  // GWO_CLIENT_CHART_H_
