// A line chart as standalone SVG text: one polyline per run, and per group (the
// seeds of one variant) a shaded band of mean ± std. Pure; no I/O.
#ifndef GWO_CLIENT_SVG_PLOT_H_
#define GWO_CLIENT_SVG_PLOT_H_

#include <string>
#include <utility>
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
  int width = 900;
  int height = 520;
  std::vector<PlotGroup> groups;  // colours by position
};

// The chart as an SVG 1.1 document. Non-finite points are skipped. With no
// finite point at all the axes span [0, 1].
std::string RenderSvg(const PlotSpec& spec);

// Mean ± sample std (n-1) across `lines` at `samples` evenly spaced x in the range
// all lines cover (linear interpolation). Empty when fewer than 2 lines or the
// lines do not overlap.
std::vector<BandPoint> SeedBand(const std::vector<std::vector<PlotPoint>>& lines, int samples = 200);

// Text escaped for XML content and attribute values.
std::string XmlEscape(const std::string& s);

}  // namespace gwo::client

#endif  // GWO_CLIENT_SVG_PLOT_H_
