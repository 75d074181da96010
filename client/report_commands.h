// gwoctl commands over reports and series: report, compare, plot. Statistics come
// from the coordinator (ReportService, MetricService.QueryMetricSeries); these
// only format them.
#ifndef GWO_CLIENT_REPORT_COMMANDS_H_
#define GWO_CLIENT_REPORT_COMMANDS_H_

#include <string>
#include <vector>

#include "client/commands.h"

namespace gwo::client {

struct ReportOptions {
  std::string format = "text";       // text | markdown | csv | json
  std::string baseline;              // empty: the experiment's first variant
  std::vector<std::string> metrics;  // empty: all
  bool include_unfinished = false;
};
int Report(const Context& c, const std::string& experiment, const ReportOptions& options);

// Latest metrics and spec differences of two or more runs.
int Compare(const Context& c, const std::vector<std::string>& runs);

struct PlotOptions {
  std::string metric;      // required
  std::string output;      // file to write: .svg or .png
  std::string format;      // "svg" or "png"; empty: by output's extension
  int max_points = 500;    // per run, downsampled on the server
  bool log_y = false;
};
// One line per run of the experiment, seeds of a variant shaded as mean ± std.
int Plot(const Context& c, const std::string& experiment, const PlotOptions& options);

}  // namespace gwo::client

#endif  // GWO_CLIENT_REPORT_COMMANDS_H_
