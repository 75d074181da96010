// Writing a chart to a file as SVG or PNG: choosing the format and the file I/O.
#ifndef GWO_CLIENT_PLOT_OUTPUT_H_
#define GWO_CLIENT_PLOT_OUTPUT_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/chart.h"

namespace gwo::client {

enum class PlotFormat { kSvg, kPng };

// The format to write `path` in. `format` ("svg" or "png") wins when given;
// empty: by the path's extension (.svg or .png, any case). InvalidArgument,
// naming what was expected, for an unknown format, a path with neither extension
// and no format, or a format that contradicts the extension (-o a.svg --format png).
absl::StatusOr<PlotFormat> ChoosePlotFormat(const std::string& path, const std::string& format);

// Renders `spec` in `format` and writes it to `path`, replacing the file.
// InvalidArgument from rendering; otherwise an error naming the path and the
// system's reason when the file cannot be written (missing directory, a
// directory, no permission, disk full).
absl::Status WritePlot(const PlotSpec& spec, PlotFormat format, const std::string& path);

}  // namespace gwo::client

#endif  // GWO_CLIENT_PLOT_OUTPUT_H_
