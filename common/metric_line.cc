#include "common/metric_line.h"

#include <cmath>
#include <cstdlib>
#include <limits>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"

namespace gwo {

std::string FormatMetricJsonLine(int64_t step, std::string_view name, double value) {
  // %.9g round-trips what the event line carries to the coordinator, so the stored
  // series and metrics.jsonl agree digit for digit.
  const std::string v = std::isfinite(value) ? absl::StrFormat("%.9g", value) : "null";
  const std::string quoted = nlohmann::json(std::string(name)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return absl::StrCat("{\"step\":", step, ",\"name\":", quoted, ",\"value\":", v, "}\n");
}

std::optional<MetricLine> ParseMetricJsonLine(std::string_view line) {
  const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  const auto step = j.find("step"), name = j.find("name"), value = j.find("value");
  if (step == j.end() || name == j.end() || value == j.end()) return std::nullopt;
  if (!step->is_number_integer() || step->get<int64_t>() < 0) return std::nullopt;
  if (!name->is_string() || name->get_ref<const std::string&>().empty()) return std::nullopt;
  if (!value->is_number() && !value->is_null()) return std::nullopt;
  MetricLine m;
  m.step = step->get<int64_t>();
  m.name = name->get<std::string>();
  m.value = value->is_null() ? std::numeric_limits<double>::quiet_NaN() : value->get<double>();
  return m;
}

std::string FormatMetricEventLine(int64_t step, std::string_view name, double value) {
  return absl::StrFormat("metric\t%d\t%s\t%.9g\n", step, name, value);
}

std::optional<MetricLine> ParseMetricEventLine(std::string_view line) {
  std::vector<std::string> parts = absl::StrSplit(absl::string_view(line.data(), line.size()), '\t');
  if (parts.size() != 4 || parts[0] != "metric" || parts[2].empty()) return std::nullopt;
  MetricLine m;
  if (!absl::SimpleAtoi(parts[1], &m.step) || m.step < 0) return std::nullopt;
  char* end = nullptr;
  m.value = std::strtod(parts[3].c_str(), &end);
  if (end == parts[3].c_str() || *end != '\0') return std::nullopt;
  m.name = std::move(parts[2]);
  return m;
}

}  // namespace gwo
