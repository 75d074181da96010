// libFuzzer: the decoders of what gwo-train reports to gwo-worker (the events-pipe line)
// and writes for resuming (the metrics.jsonl line). What either accepts is written
// again and read back to the same point.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/metric_line.h"

namespace {

bool Same(const gwo::MetricLine& a, const gwo::MetricLine& b) {
  if (a.step != b.step || a.name != b.name) return false;
  if (std::isnan(a.value) || std::isnan(b.value)) return std::isnan(a.value) && std::isnan(b.value);
  if (std::isinf(a.value) || std::isinf(b.value)) return a.value == b.value;
  return std::abs(a.value - b.value) <= 1e-8 * std::abs(a.value) + 1e-300;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  if (std::optional<gwo::MetricLine> m = gwo::ParseMetricJsonLine(line)) {
    // Non-finite values are written as null; names that are not UTF-8 get U+FFFD.
    std::optional<gwo::MetricLine> again = gwo::ParseMetricJsonLine(gwo::FormatMetricJsonLine(m->step, m->name, m->value));
    if (!again.has_value() || again->step != m->step) __builtin_trap();
  }
  if (std::optional<gwo::MetricLine> m = gwo::ParseMetricEventLine(line)) {
    std::string written = gwo::FormatMetricEventLine(m->step, m->name, m->value);
    written.pop_back();  // the newline
    std::optional<gwo::MetricLine> again = gwo::ParseMetricEventLine(written);
    if (!again.has_value() || !Same(*m, *again)) __builtin_trap();
  }
  return 0;
}
