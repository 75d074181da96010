#include "server/rpc/report_service.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "server/report/report.h"
#include "server/report/spec_diff.h"
#include "server/rpc/convert.h"
#include "server/rpc/status.h"

namespace gwo::server {
namespace {

gwo::v1::MetricDirection ToProto(report::Direction d) {
  switch (d) {
    case report::Direction::kLowerIsBetter:
      return gwo::v1::METRIC_DIRECTION_LOWER_IS_BETTER;
    case report::Direction::kHigherIsBetter:
      return gwo::v1::METRIC_DIRECTION_HIGHER_IS_BETTER;
    case report::Direction::kNeutral:
      return gwo::v1::METRIC_DIRECTION_NEUTRAL;
  }
  return gwo::v1::METRIC_DIRECTION_UNSPECIFIED;
}

void ToProto(const report::Summary& s, gwo::v1::Stat* out) {
  out->set_n(s.n);
  out->set_mean(s.mean);
  out->set_std(s.std);
}

absl::Status FillReport(Store& store, const gwo::v1::GetReportRequest& req, gwo::v1::GetReportResponse* resp) {
  GWO_RETURN_IF_ERROR(PositiveId(req.experiment_id(), "experiment_id"));
  GWO_ASSIGN_OR_RETURN(ExperimentRecord experiment, store.GetExperiment(req.experiment_id()));
  GWO_ASSIGN_OR_RETURN(std::vector<RunRecord> runs, store.ListRuns(req.experiment_id()));
  GWO_ASSIGN_OR_RETURN(auto finals, store.FinalMetrics(req.experiment_id()));
  // The baseline is decided over all runs (the first run's variant is the spec's
  // first variant), not only those counted, so a failed run cannot change it.
  std::string baseline = req.baseline_variant();
  if (baseline.empty() && !runs.empty()) baseline = runs.front().variant;
  std::vector<std::string> variants;
  for (const RunRecord& r : runs) {
    if (std::find(variants.begin(), variants.end(), r.variant) == variants.end()) variants.push_back(r.variant);
  }
  if (!runs.empty() && std::find(variants.begin(), variants.end(), baseline) == variants.end()) {
    return absl::InvalidArgumentError(absl::StrCat("baseline variant \"", baseline,
                                                   "\" is not a variant of the experiment; expected one of: ",
                                                   absl::StrJoin(variants, ", ")));
  }
  std::vector<report::RunFinals> counted;
  for (const RunRecord& r : runs) {  // in id order: the spec's order
    if (!req.include_unfinished() && r.state != RunState::kSucceeded) continue;
    report::RunFinals f{r.id, r.dataset, r.variant, r.seed, {}};
    if (auto it = finals.find(r.id); it != finals.end()) f.finals = it->second;
    counted.push_back(std::move(f));
  }
  std::vector<std::string> only(req.metrics().begin(), req.metrics().end());
  const report::Report rep = report::BuildReport(counted, baseline, only);
  resp->set_experiment_id(experiment.id);
  resp->set_experiment_name(experiment.name);
  resp->set_baseline_variant(baseline);
  for (const auto& d : rep.datasets) resp->add_datasets(d);
  for (const auto& v : rep.variants) resp->add_variants(v);
  for (const auto& m : rep.metric_names) resp->add_metrics(m);
  for (const report::ReportRow& row : rep.rows) {
    gwo::v1::ReportRow* out = resp->add_rows();
    out->set_dataset(row.dataset);
    out->set_variant(row.variant);
    out->set_baseline(row.baseline);
    for (int64_t s : row.seeds) out->add_seeds(s);
    for (int64_t id : row.run_ids) out->add_run_ids(id);
    for (const report::MetricCell& cell : row.metrics) {
      gwo::v1::ReportCell* c = out->add_cells();
      c->set_metric(cell.name);
      c->set_direction(ToProto(cell.direction));
      ToProto(cell.value, c->mutable_value());
      c->set_has_improvement(cell.has_improvement);
      if (cell.has_improvement) ToProto(cell.improvement, c->mutable_improvement_pct());
    }
  }
  resp->set_sign_convention(report::SignConvention());
  resp->set_total_runs(static_cast<int>(runs.size()));
  resp->set_counted_runs(static_cast<int>(counted.size()));
  return absl::OkStatus();
}

absl::Status Compare(Store& store, const gwo::v1::CompareRunsRequest& req, gwo::v1::CompareRunsResponse* resp) {
  if (req.run_ids_size() < 2) {
    return absl::InvalidArgumentError(absl::StrCat("compare needs at least two run ids, got ", req.run_ids_size()));
  }
  std::vector<RunRecord> runs;
  std::vector<std::string> specs;
  std::set<std::string> names;
  for (int64_t id : req.run_ids()) {
    GWO_RETURN_IF_ERROR(PositiveId(id, "run_ids"));
    GWO_ASSIGN_OR_RETURN(RunRecord r, store.GetRun(id));
    specs.push_back(r.spec_yaml);
    for (const auto& [name, value] : r.latest_metrics) names.insert(name);
    resp->add_run_names(r.name);
    resp->add_run_states(server::ToProto(r.state));
    runs.push_back(std::move(r));
  }
  GWO_ASSIGN_OR_RETURN(std::vector<report::SpecDifference> diffs, report::DiffSpecs(specs));
  for (const report::SpecDifference& d : diffs) {
    gwo::v1::SpecDifference* out = resp->add_spec_differences();
    out->set_key(d.key);
    for (const auto& v : d.values) out->add_values(v);
  }
  for (const std::string& name : names) {
    gwo::v1::MetricComparison* m = resp->add_metrics();
    m->set_metric(name);
    m->set_direction(ToProto(report::MetricDirection(name)));
    for (const RunRecord& r : runs) {
      auto it = r.latest_metrics.find(name);
      m->add_values(it == r.latest_metrics.end() ? 0 : it->second);
      m->add_has_value(it != r.latest_metrics.end());
    }
  }
  return absl::OkStatus();
}

}  // namespace

grpc::ServerUnaryReactor* ReportServiceImpl::GetReport(grpc::CallbackServerContext* ctx,
                                                       const gwo::v1::GetReportRequest* req,
                                                       gwo::v1::GetReportResponse* resp) {
  absl::StatusOr<Principal> p = gate_->Admit(ctx, "ReportService/GetReport");
  if (!p.ok()) return Done(ctx, p.status());
  if (req->experiment_id() > 0) {
    if (absl::Status s = gate_->CheckExperiment(*p, req->experiment_id(), false); !s.ok()) return Done(ctx, s);
  }
  return Done(ctx, FillReport(*core_->store(), *req, resp));
}

grpc::ServerUnaryReactor* ReportServiceImpl::CompareRuns(grpc::CallbackServerContext* ctx,
                                                         const gwo::v1::CompareRunsRequest* req,
                                                         gwo::v1::CompareRunsResponse* resp) {
  absl::StatusOr<Principal> p = gate_->Admit(ctx, "ReportService/CompareRuns");
  if (!p.ok()) return Done(ctx, p.status());
  for (int64_t id : req->run_ids()) {
    if (id <= 0) continue;  // Compare says which id is wrong
    if (absl::Status s = gate_->CheckRun(*p, id, false); !s.ok()) return Done(ctx, s);
  }
  return Done(ctx, Compare(*core_->store(), *req, resp));
}

}  // namespace gwo::server
