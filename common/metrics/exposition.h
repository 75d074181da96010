// The pieces of the Prometheus text exposition format (version 0.0.4) that the
// Registry writes with: escaping and number formatting.
#ifndef GWO_COMMON_METRICS_EXPOSITION_H_
#define GWO_COMMON_METRICS_EXPOSITION_H_

#include <string>
#include <vector>

namespace gwo::metrics {

// A label value: backslash, double quote and line feed escaped as \\, \" and \n.
std::string EscapeLabelValue(const std::string& value);
// A HELP text: backslash and line feed escaped as \\ and \n.
std::string EscapeHelp(const std::string& help);
// A sample value or bucket bound: the shortest text that reads back as the same
// double ("1", "0.25", "1e+06"), or +Inf, -Inf, NaN.
std::string FormatValue(double v);
// `{a="x",b="y"}` for names {a, b} and values {x, y} (escaped), plus `extra`
// (already formatted, e.g. `le="0.5"`) last; "" when there is nothing to write.
std::string FormatLabels(const std::vector<std::string>& names, const std::vector<std::string>& values,
                         const std::string& extra = "");

// Metric names: [a-zA-Z_:][a-zA-Z0-9_:]*. Label names: [a-zA-Z_][a-zA-Z0-9_]*,
// not starting with "__" (reserved).
bool IsValidMetricName(const std::string& name);
bool IsValidLabelName(const std::string& name);

}  // namespace gwo::metrics

#endif  // GWO_COMMON_METRICS_EXPOSITION_H_
