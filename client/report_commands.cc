#include "client/report_commands.h"

#include <cmath>
#include <iostream>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/report_format.h"
#include "client/plot_output.h"
#include "client/table.h"
#include "gwo/v1/experiments.grpc.pb.h"
#include "gwo/v1/metrics.grpc.pb.h"
#include "gwo/v1/reports.grpc.pb.h"

namespace gwo::client {
namespace {

bool ParseExperiment(const std::string& text, int64_t* id) {
  *id = ParseId(text, "exp");
  if (*id == 0) std::cerr << "gwoctl: expected an experiment id like exp-3, got \"" << text << "\"\n";
  return *id != 0;
}

// A downsampled series as a polyline that keeps each bucket's extremes: its
// first point, then its min and max at the bucket's middle (in the order the
// curve moves), then its last point.
std::vector<PlotPoint> BucketLine(const gwo::v1::DownsampledSeries& series) {
  std::vector<PlotPoint> out;
  for (const auto& b : series.buckets()) {
    out.push_back({static_cast<double>(b.step_start()), b.first()});
    if (b.count() > 2) {
      const double mid = (b.step_start() + b.step_end()) / 2.0;
      const bool falling = b.last() < b.first();
      out.push_back({mid, falling ? b.max() : b.min()});
      out.push_back({mid, falling ? b.min() : b.max()});
    }
    if (b.step_end() != b.step_start()) out.push_back({static_cast<double>(b.step_end()), b.last()});
  }
  return out;
}

}  // namespace

int Report(const Context& c, const std::string& experiment, const ReportOptions& options) {
  int64_t id = 0;
  if (!ParseExperiment(experiment, &id)) return 1;
  // Refuse a bad format before calling the server.
  if (!FormatReport(gwo::v1::GetReportResponse(), options.format).ok()) {
    std::cerr << "gwoctl: --format must be text, markdown, csv or json, got \"" << options.format << "\"\n";
    return 2;
  }
  gwo::v1::GetReportRequest req;
  req.set_experiment_id(id);
  req.set_baseline_variant(options.baseline);
  for (const auto& m : options.metrics) req.add_metrics(m);
  req.set_include_unfinished(options.include_unfinished);
  gwo::v1::GetReportResponse resp;
  grpc::Status s = gwo::v1::ReportService::NewStub(c.channel)->GetReport(CallContext(c).get(), req, &resp);
  if (!s.ok()) return CallFailed(c, s);
  absl::StatusOr<std::string> text = FormatReport(resp, options.format);
  if (!text.ok()) {
    std::cerr << "gwoctl: " << text.status().message() << "\n";
    return 1;
  }
  std::cout << *text;
  return 0;
}

int Compare(const Context& c, const std::vector<std::string>& runs) {
  gwo::v1::CompareRunsRequest req;
  for (const std::string& r : runs) {
    int64_t id = ParseId(r, "run");
    if (id == 0) {
      std::cerr << "gwoctl: expected a run id like run-7, got \"" << r << "\"\n";
      return 1;
    }
    req.add_run_ids(id);
  }
  gwo::v1::CompareRunsResponse resp;
  grpc::Status s = gwo::v1::ReportService::NewStub(c.channel)->CompareRuns(CallContext(c).get(), req, &resp);
  if (!s.ok()) return CallFailed(c, s);
  std::vector<std::string> header = {""};
  for (int i = 0; i < req.run_ids_size(); ++i) header.push_back(absl::StrCat("run-", req.run_ids(i)));
  Table t(header);
  std::vector<std::string> names = {"name"}, states = {"state"};
  for (const auto& n : resp.run_names()) names.push_back(n);
  for (int st : resp.run_states()) states.push_back(ShortStateName(static_cast<gwo::v1::RunState>(st)));
  t.AddRow(names);
  t.AddRow(states);
  t.AddRow({"latest metrics (* best)"});
  for (const auto& m : resp.metrics()) {
    int best = -1;
    for (int i = 0; i < m.values_size(); ++i) {
      if (!m.has_value(i) || !std::isfinite(m.values(i))) continue;
      const bool lower = m.direction() == gwo::v1::METRIC_DIRECTION_LOWER_IS_BETTER;
      const bool higher = m.direction() == gwo::v1::METRIC_DIRECTION_HIGHER_IS_BETTER;
      if ((lower || higher) && (best < 0 || (lower ? m.values(i) < m.values(best) : m.values(i) > m.values(best)))) {
        best = i;
      }
    }
    std::vector<std::string> row = {absl::StrCat("  ", m.metric())};
    for (int i = 0; i < m.values_size(); ++i) {
      row.push_back(m.has_value(i) ? absl::StrFormat("%.6g%s", m.values(i), i == best ? " *" : "") : "-");
    }
    t.AddRow(row);
  }
  t.AddRow({"spec differences"});
  if (resp.spec_differences_size() == 0) t.AddRow({"  (none)"});
  for (const auto& d : resp.spec_differences()) {
    std::vector<std::string> row = {absl::StrCat("  ", d.key())};
    for (const auto& v : d.values()) row.push_back(v.empty() ? "-" : v);
    t.AddRow(row);
  }
  std::cout << t.Render();
  return 0;
}

int Plot(const Context& c, const std::string& experiment, const PlotOptions& options) {
  int64_t id = 0;
  if (!ParseExperiment(experiment, &id)) return 1;
  if (options.metric.empty()) {
    std::cerr << "gwoctl: plot needs --metric NAME (e.g. --metric val_loss)\n";
    return 2;
  }
  absl::StatusOr<PlotFormat> format = ChoosePlotFormat(options.output, options.format);
  if (!format.ok()) {
    std::cerr << "gwoctl: plot: " << format.status().message() << "\n";
    return 2;
  }
  gwo::v1::ListRunsRequest runs_req;
  runs_req.set_experiment_id(id);
  gwo::v1::ListRunsResponse runs;
  grpc::Status s = gwo::v1::ExperimentService::NewStub(c.channel)->ListRuns(CallContext(c).get(), runs_req, &runs);
  if (!s.ok()) return CallFailed(c, s);
  auto metrics = gwo::v1::MetricService::NewStub(c.channel);
  PlotSpec spec;
  spec.title = absl::StrCat("exp-", id, ": ", options.metric);
  spec.y_label = options.metric;
  spec.log_y = options.log_y;
  std::map<std::string, size_t> group_of;  // "variant / dataset" -> index, in run order
  int plotted = 0;
  for (const auto& run : runs.runs()) {
    gwo::v1::QueryMetricSeriesRequest req;
    req.set_run_id(run.id());
    req.add_names(options.metric);
    req.set_max_points(options.max_points);
    gwo::v1::QueryMetricSeriesResponse resp;
    s = metrics->QueryMetricSeries(CallContext(c).get(), req, &resp);
    if (!s.ok()) return CallFailed(c, s);
    if (resp.series_size() == 0) continue;
    const std::string label = absl::StrCat(run.variant(), " / ", run.dataset());
    auto [it, added] = group_of.emplace(label, spec.groups.size());
    if (added) spec.groups.push_back({label, {}, {}});
    spec.groups[it->second].lines.push_back(BucketLine(resp.series(0)));
    ++plotted;
  }
  if (plotted == 0) {
    std::cerr << "gwoctl: no run of exp-" << id << " has recorded \"" << options.metric << "\"\n";
    return 1;
  }
  for (PlotGroup& g : spec.groups) g.band = SeedBand(g.lines);
  if (absl::Status w = WritePlot(spec, *format, options.output); !w.ok()) {
    std::cerr << "gwoctl: plot: " << w.message() << "\n";
    return 1;
  }
  std::cout << "wrote " << options.output << ": " << plotted << " run(s) in " << spec.groups.size()
            << " group(s)\n";
  return 0;
}

}  // namespace gwo::client
