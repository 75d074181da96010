// The two lines a metric point travels in, and their readers. metrics.jsonl:
// {"step":<int>,"name":<JSON string>,"value":<number, %.9g, or null>}
// (gwo-train writes it, gwo-worker reads it back to resume, the tests compare series
// with it, all through a JSON library); and the events-pipe line below.
#ifndef GWO_COMMON_METRIC_LINE_H_
#define GWO_COMMON_METRIC_LINE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gwo {

struct MetricLine {
  int64_t step = 0;
  std::string name;
  double value = 0;  // NaN where the line says null (a non-finite value was recorded)
};

// One line, newline included. A non-finite value is written as null.
std::string FormatMetricJsonLine(int64_t step, std::string_view name, double value);

// nullopt unless `line` (with or without its newline) is one JSON object with an
// integer step >= 0, a non-empty string name and a numeric or null value.
std::optional<MetricLine> ParseMetricJsonLine(std::string_view line);

// The events-pipe line gwo-train writes for each point as it is recorded, and
// gwo-worker reads: "metric\t<step>\t<name>\t<value %.9g>\n".
std::string FormatMetricEventLine(int64_t step, std::string_view name, double value);
// nullopt unless `line` (without its newline) has the four fields, a step >= 0, a
// non-empty name and a value strtod reads whole (nan and inf included: a diverged
// run reports them).
std::optional<MetricLine> ParseMetricEventLine(std::string_view line);

}  // namespace gwo

#endif  // GWO_COMMON_METRIC_LINE_H_
