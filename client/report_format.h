// Formats a report (gwo.v1.GetReportResponse) for people and programs: aligned
// text, Markdown, CSV or JSON. Only formatting: every number comes from the server.
#ifndef GWO_CLIENT_REPORT_FORMAT_H_
#define GWO_CLIENT_REPORT_FORMAT_H_

#include <string>

#include "absl/status/statusor.h"
#include "gwo/v1/reports.pb.h"

namespace gwo::client {

// The metric the trainer records its trainable-parameter count under; shown as
// a PARAMS column rather than as a metric.
inline constexpr char kTrainableParamsMetric[] = "params_trainable";

// `format`: "text" (aligned columns), "markdown" (a GitHub table), "csv" (one row
// per dataset x variant; per metric <m>_mean, <m>_std, <m>_n, and, where defined,
// <m>_impr_pct_mean, <m>_impr_pct_std) or "json" (the response message as
// protobuf JSON with proto field names). INVALID_ARGUMENT for another format.
absl::StatusOr<std::string> FormatReport(const gwo::v1::GetReportResponse& report, const std::string& format);

// "3.412 ± 0.021": mean and std with the decimals that show 4 significant digits
// of the mean (at most 6 decimals); "-" for n == 0; just the mean for n == 1.
std::string FormatMeanStd(const gwo::v1::Stat& s, const std::string& plus_minus = "±");
// "+3.25 ± 0.40 %" with an explicit sign; "-" for n == 0.
std::string FormatImprovement(const gwo::v1::Stat& s, const std::string& plus_minus = "±");
// 1234567 -> "1.23M", 5400 -> "5.4K", 12 -> "12".
std::string FormatCount(double value);

}  // namespace gwo::client

#endif  // GWO_CLIENT_REPORT_FORMAT_H_
