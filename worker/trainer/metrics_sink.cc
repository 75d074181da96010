#include "worker/trainer/metrics_sink.h"

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/metric_line.h"
#include "worker/trainer/file_io.h"

namespace gwo::trainer {

std::string FormatMetricEvent(int64_t step, std::string_view name, double value) {
  return FormatMetricEventLine(step, name, value);
}

absl::Status TruncateMetricsAfter(const std::string& path, int64_t last_step) {
  absl::StatusOr<std::string> content = ReadFileToString(path);
  if (absl::IsNotFound(content.status())) return absl::OkStatus();
  if (!content.ok()) return content.status();
  std::string kept;
  const absl::string_view text = *content;
  for (absl::string_view line : absl::StrSplit(text.substr(0, text.rfind('\n') + 1), '\n')) {
    std::optional<MetricLine> point = ParseMetricJsonLine(std::string_view(line.data(), line.size()));
    if (!point.has_value() || point->step > last_step) continue;
    absl::StrAppend(&kept, line, "\n");
  }
  if (kept.size() == content->size()) return absl::OkStatus();
  return WriteFileAtomically(path, kept);
}

absl::StatusOr<std::unique_ptr<MetricSink>> MetricSink::Open(const std::string& jsonl_path,
                                                             int events_fd) {
  std::FILE* jsonl = std::fopen(jsonl_path.c_str(), "a");
  if (jsonl == nullptr) {
    return absl::InternalError(
        absl::StrCat("cannot open ", jsonl_path, ": ", std::strerror(errno)));
  }
  return std::unique_ptr<MetricSink>(new MetricSink(jsonl, events_fd));
}

MetricSink::~MetricSink() { std::fclose(jsonl_); }

absl::Status MetricSink::Record(int64_t step, std::string_view name, double value) {
  const std::string line = FormatMetricJsonLine(step, name, value);
  if (std::fwrite(line.data(), 1, line.size(), jsonl_) != line.size() || std::fflush(jsonl_) != 0) {
    return absl::InternalError(
        absl::StrCat("cannot append to metrics.jsonl: ", std::strerror(errno)));
  }
  if (events_fd_ >= 0) return WriteAll(events_fd_, FormatMetricEvent(step, name, value));
  return absl::OkStatus();
}

}  // namespace gwo::trainer
