#include "client/report_format.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "client/table.h"
#include "google/protobuf/util/json_util.h"

namespace gwo::client {
namespace {

int Decimals(double mean) {
  if (!std::isfinite(mean) || mean == 0) return 4;
  const int digits_before = static_cast<int>(std::floor(std::log10(std::fabs(mean)))) + 1;
  return std::clamp(4 - digits_before, 0, 6);
}

const gwo::v1::ReportCell* FindCell(const gwo::v1::ReportRow& row, const std::string& metric) {
  for (const auto& c : row.cells()) {
    if (c.metric() == metric) return &c;
  }
  return nullptr;
}

// The metric columns: every metric except the parameter count, and whether any
// row has an improvement for it.
struct Column {
  std::string metric;
  bool improvement = false;
};

std::vector<Column> Columns(const gwo::v1::GetReportResponse& r) {
  std::vector<Column> out;
  for (const std::string& m : r.metrics()) {
    if (m == kTrainableParamsMetric) continue;
    Column c{m, false};
    for (const auto& row : r.rows()) {
      const gwo::v1::ReportCell* cell = FindCell(row, m);
      c.improvement = c.improvement || (cell != nullptr && cell->direction() != gwo::v1::METRIC_DIRECTION_NEUTRAL &&
                                        cell->direction() != gwo::v1::METRIC_DIRECTION_UNSPECIFIED);
    }
    out.push_back(c);
  }
  return out;
}

bool HasParams(const gwo::v1::GetReportResponse& r) {
  return std::find(r.metrics().begin(), r.metrics().end(), kTrainableParamsMetric) != r.metrics().end();
}

// The table as cells: header then rows, shared by text and Markdown.
std::vector<std::vector<std::string>> Cells(const gwo::v1::GetReportResponse& r, const std::string& pm) {
  const std::vector<Column> columns = Columns(r);
  const bool params = HasParams(r);
  std::vector<std::string> header = {"DATASET", "VARIANT", "SEEDS"};
  if (params) header.push_back("PARAMS");
  for (const Column& c : columns) {
    header.push_back(c.metric);
    if (c.improvement) header.push_back(absl::StrCat(c.metric, " impr %"));
  }
  std::vector<std::vector<std::string>> out = {header};
  for (const auto& row : r.rows()) {
    std::vector<std::string> line = {row.dataset(), row.baseline() ? absl::StrCat(row.variant(), " (baseline)")
                                                                   : row.variant(),
                                     absl::StrCat(row.seeds_size())};
    if (params) {
      const gwo::v1::ReportCell* cell = FindCell(row, kTrainableParamsMetric);
      line.push_back(cell == nullptr ? "-" : FormatCount(cell->value().mean()));
    }
    for (const Column& c : columns) {
      const gwo::v1::ReportCell* cell = FindCell(row, c.metric);
      std::string value = cell == nullptr ? "-" : FormatMeanStd(cell->value(), pm);
      if (cell != nullptr && cell->value().n() != row.seeds_size()) {
        absl::StrAppend(&value, " (n=", cell->value().n(), ")");
      }
      line.push_back(value);
      if (!c.improvement) continue;
      if (row.baseline()) {
        line.push_back("-");
      } else {
        line.push_back(cell != nullptr && cell->has_improvement() ? FormatImprovement(cell->improvement_pct(), pm)
                                                                  : "-");
      }
    }
    out.push_back(std::move(line));
  }
  return out;
}

std::string Title(const gwo::v1::GetReportResponse& r) {
  return absl::StrCat("exp-", r.experiment_id(), " ", r.experiment_name(), ": ", r.counted_runs(), " of ",
                      r.total_runs(), " runs counted; baseline variant: ", r.baseline_variant());
}

std::string Notes(const gwo::v1::GetReportResponse& r) {
  return absl::StrCat("values: final value of each run (last step of its series), mean ± sample std (n-1) over seeds\n",
                      "sign: ", r.sign_convention(), "\n");
}

std::string Text(const gwo::v1::GetReportResponse& r) {
  std::vector<std::vector<std::string>> cells = Cells(r, "±");
  Table t(cells[0]);
  for (size_t i = 1; i < cells.size(); ++i) t.AddRow(cells[i]);
  std::string out = absl::StrCat(Title(r), "\n\n");
  if (r.rows_size() == 0) {
    absl::StrAppend(&out, "(no runs to report yet", r.total_runs() > 0 ? "; none has succeeded" : "", ")\n");
  } else {
    absl::StrAppend(&out, t.Render());
  }
  absl::StrAppend(&out, "\n", Notes(r));
  return out;
}

std::string MarkdownEscape(const std::string& s) { return absl::StrReplaceAll(s, {{"|", "\\|"}}); }

std::string Markdown(const gwo::v1::GetReportResponse& r) {
  std::vector<std::vector<std::string>> cells = Cells(r, "±");
  std::string out = absl::StrCat("**", MarkdownEscape(Title(r)), "**\n\n");
  auto line = [](const std::vector<std::string>& row) {
    std::vector<std::string> escaped;
    for (const auto& c : row) escaped.push_back(MarkdownEscape(c));
    return absl::StrCat("| ", absl::StrJoin(escaped, " | "), " |\n");
  };
  absl::StrAppend(&out, line(cells[0]));
  std::vector<std::string> rule;
  for (size_t i = 0; i < cells[0].size(); ++i) rule.push_back(i < 2 ? "---" : "---:");
  absl::StrAppend(&out, "|", absl::StrJoin(rule, "|"), "|\n");
  for (size_t i = 1; i < cells.size(); ++i) absl::StrAppend(&out, line(cells[i]));
  absl::StrAppend(&out, "\n", absl::StrReplaceAll(Notes(r), {{"\n", "  \n"}}));
  return out;
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  return absl::StrCat("\"", absl::StrReplaceAll(s, {{"\"", "\"\""}}), "\"");
}

std::string Number(double v) { return absl::StrFormat("%.10g", v); }

std::string Csv(const gwo::v1::GetReportResponse& r) {
  std::vector<std::string> header = {"dataset", "variant", "baseline", "seeds"};
  for (const std::string& m : r.metrics()) {
    for (const char* suffix : {"_mean", "_std", "_n", "_impr_pct_mean", "_impr_pct_std"}) {
      header.push_back(CsvField(absl::StrCat(m, suffix)));
    }
  }
  std::string out = absl::StrCat(absl::StrJoin(header, ","), "\n");
  for (const auto& row : r.rows()) {
    std::vector<std::string> line = {CsvField(row.dataset()), CsvField(row.variant()),
                                     row.baseline() ? "true" : "false", absl::StrJoin(row.seeds(), " ")};
    for (const std::string& m : r.metrics()) {
      const gwo::v1::ReportCell* cell = FindCell(row, m);
      if (cell == nullptr) {
        line.insert(line.end(), {"", "", "0", "", ""});
        continue;
      }
      line.push_back(Number(cell->value().mean()));
      line.push_back(Number(cell->value().std()));
      line.push_back(absl::StrCat(cell->value().n()));
      line.push_back(cell->has_improvement() ? Number(cell->improvement_pct().mean()) : "");
      line.push_back(cell->has_improvement() ? Number(cell->improvement_pct().std()) : "");
    }
    absl::StrAppend(&out, absl::StrJoin(line, ","), "\n");
  }
  return out;
}

}  // namespace

std::string FormatMeanStd(const gwo::v1::Stat& s, const std::string& pm) {
  if (s.n() == 0) return "-";
  // Tiny values (attention-probability MSE is ~1e-8 at 4096 tokens) in scientific form:
  // fixed decimals would print them as 0.000000.
  if (s.mean() != 0 && std::fabs(s.mean()) < 1e-4) {
    if (s.n() == 1) return absl::StrFormat("%.3e", s.mean());
    return absl::StrFormat("%.3e %s %.3e", s.mean(), pm, s.std());
  }
  const int d = Decimals(s.mean());
  if (s.n() == 1) return absl::StrFormat("%.*f", d, s.mean());
  return absl::StrFormat("%.*f %s %.*f", d, s.mean(), pm, d, s.std());
}

std::string FormatImprovement(const gwo::v1::Stat& s, const std::string& pm) {
  if (s.n() == 0) return "-";
  if (s.n() == 1) return absl::StrFormat("%+.2f %%", s.mean());
  return absl::StrFormat("%+.2f %s %.2f %%", s.mean(), pm, s.std());
}

std::string FormatCount(double v) {
  const double a = std::fabs(v);
  if (a >= 1e9) return absl::StrFormat("%.3gG", v / 1e9);
  if (a >= 1e6) return absl::StrFormat("%.3gM", v / 1e6);
  if (a >= 1e3) return absl::StrFormat("%.3gK", v / 1e3);
  return absl::StrFormat("%.0f", v);
}

absl::StatusOr<std::string> FormatReport(const gwo::v1::GetReportResponse& report, const std::string& format) {
  if (format == "text") return Text(report);
  if (format == "markdown" || format == "md") return Markdown(report);
  if (format == "csv") return Csv(report);
  if (format == "json") {
    std::string out;
    google::protobuf::util::JsonPrintOptions options;
    options.add_whitespace = true;
    options.always_print_primitive_fields = true;
    options.preserve_proto_field_names = true;
    auto s = google::protobuf::util::MessageToJsonString(report, &out, options);
    if (!s.ok()) return absl::InternalError(absl::StrCat("JSON: ", s.ToString()));
    return out;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown report format \"", format, "\"; expected text, markdown, csv or json"));
}

}  // namespace gwo::client
