// The SVG back end of the chart (client/chart.h): one polyline per run, and per
// group (the seeds of one variant) a shaded band of mean ± std. Pure; no I/O.
#ifndef GWO_CLIENT_SVG_PLOT_H_
#define GWO_CLIENT_SVG_PLOT_H_

#include <string>

#include "client/chart.h"

namespace gwo::client {

// The chart as an SVG 1.1 document, drawn from LayoutChart(spec).
std::string RenderSvg(const PlotSpec& spec);

// Text escaped for XML content and attribute values.
std::string XmlEscape(const std::string& s);

}  // namespace gwo::client

#endif  // GWO_CLIENT_SVG_PLOT_H_
