#include "worker/trainer/metrics_sink.h"

#include <cerrno>
#include <cmath>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "worker/trainer/file_io.h"

namespace gwo::trainer {
namespace {

// Metric names are identifiers; escape the two characters JSON requires anyway.
std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

}  // namespace

std::string FormatMetricEvent(int64_t step, std::string_view name, double value) {
  return absl::StrFormat("metric\t%d\t%s\t%.9g\n", step, name, value);
}

std::string FormatMetricJson(int64_t step, std::string_view name, double value) {
  const std::string v = std::isfinite(value) ? absl::StrFormat("%.9g", value) : "null";
  return absl::StrCat("{\"step\":", step, ",\"name\":", JsonString(name), ",\"value\":", v, "}\n");
}

absl::Status TruncateMetricsAfter(const std::string& path, int64_t last_step) {
  absl::StatusOr<std::string> content = ReadFileToString(path);
  if (absl::IsNotFound(content.status())) return absl::OkStatus();
  if (!content.ok()) return content.status();
  std::string kept;
  const absl::string_view text = *content;
  for (absl::string_view line : absl::StrSplit(text.substr(0, text.rfind('\n') + 1), '\n')) {
    // FormatMetricJson's lines start {"step":<step>,
    absl::string_view rest = line;
    int64_t step = 0;
    if (!absl::ConsumePrefix(&rest, "{\"step\":") ||
        !absl::SimpleAtoi(rest.substr(0, rest.find(',')), &step) || step > last_step) {
      continue;
    }
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
  const std::string line = FormatMetricJson(step, name, value);
  if (std::fwrite(line.data(), 1, line.size(), jsonl_) != line.size() || std::fflush(jsonl_) != 0) {
    return absl::InternalError(
        absl::StrCat("cannot append to metrics.jsonl: ", std::strerror(errno)));
  }
  if (events_fd_ >= 0) return WriteAll(events_fd_, FormatMetricEvent(step, name, value));
  return absl::OkStatus();
}

}  // namespace gwo::trainer
