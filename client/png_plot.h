// The PNG back end of the chart (client/chart.h): the same layout as the SVG,
// rasterised with anti-aliasing (client/raster.h), text in the built-in bitmap
// font (client/bitmap_font.h). Pure; no I/O.
#ifndef GWO_CLIENT_PNG_PLOT_H_
#define GWO_CLIENT_PNG_PLOT_H_

#include <string>

#include "absl/status/statusor.h"
#include "client/chart.h"

namespace gwo::client {

// Largest canvas side RenderPng accepts, in pixels.
inline constexpr int kMaxPngSide = 8192;

// The chart as PNG file bytes (8-bit RGB), drawn from LayoutChart(spec).
// InvalidArgument when spec.width or spec.height is not in [1, kMaxPngSide].
absl::StatusOr<std::string> RenderPng(const PlotSpec& spec);

}  // namespace gwo::client

#endif  // GWO_CLIENT_PNG_PLOT_H_
