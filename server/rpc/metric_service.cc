#include "server/rpc/metric_service.h"

#include "absl/strings/str_cat.h"
#include "server/rpc/convert.h"
#include "server/rpc/live_streams.h"
#include "server/rpc/status.h"

namespace gwo::server {
namespace {

constexpr int kDefaultMaxPoints = 1000;
constexpr int kMaxMaxPoints = 100000;

}  // namespace

grpc::ServerUnaryReactor* MetricServiceImpl::QueryMetrics(grpc::CallbackServerContext* ctx,
                                                          const gwo::v1::QueryMetricsRequest* req,
                                                          gwo::v1::QueryMetricsResponse* resp) {
  absl::StatusOr<Principal> p = gate_->Admit(ctx, "MetricService/QueryMetrics");
  if (!p.ok()) return Done(ctx, p.status());
  if (absl::Status s = PositiveId(req->run_id(), "run_id"); !s.ok()) return Done(ctx, s);
  if (absl::Status s = gate_->CheckRun(*p, req->run_id(), false); !s.ok()) return Done(ctx, s);
  std::vector<std::string> names(req->names().begin(), req->names().end());
  absl::StatusOr<std::vector<MetricSeriesRecord>> r = core_->store()->QueryMetrics(req->run_id(), names);
  if (r.ok()) {
    for (const MetricSeriesRecord& s : *r) ToProto(s, resp->add_series());
  }
  return Done(ctx, r.status());
}

grpc::ServerUnaryReactor* MetricServiceImpl::QueryMetricSeries(grpc::CallbackServerContext* ctx,
                                                               const gwo::v1::QueryMetricSeriesRequest* req,
                                                               gwo::v1::QueryMetricSeriesResponse* resp) {
  absl::StatusOr<Principal> p = gate_->Admit(ctx, "MetricService/QueryMetricSeries");
  if (!p.ok()) return Done(ctx, p.status());
  if (absl::Status s = PositiveId(req->run_id(), "run_id"); !s.ok()) return Done(ctx, s);
  if (absl::Status s = gate_->CheckRun(*p, req->run_id(), false); !s.ok()) return Done(ctx, s);
  if (req->max_points() < 0 || req->max_points() > kMaxMaxPoints) {
    return Done(ctx, absl::InvalidArgumentError(absl::StrCat("max_points must be in [0, ", kMaxMaxPoints,
                                                             "] (0: ", kDefaultMaxPoints, "), got ",
                                                             req->max_points())));
  }
  if (req->step_min() < 0 || req->step_max() < 0 || (req->step_max() > 0 && req->step_max() < req->step_min())) {
    return Done(ctx, absl::InvalidArgumentError(absl::StrCat("expected 0 <= step_min <= step_max (step_max 0: no "
                                                             "bound), got step_min ", req->step_min(),
                                                             ", step_max ", req->step_max())));
  }
  std::vector<std::string> names(req->names().begin(), req->names().end());
  absl::StatusOr<std::vector<DownsampledSeriesRecord>> r = core_->store()->QueryMetricBuckets(
      req->run_id(), names, req->max_points() == 0 ? kDefaultMaxPoints : req->max_points(), req->step_min(),
      req->step_max() == 0 ? -1 : req->step_max());
  if (r.ok()) {
    for (const DownsampledSeriesRecord& s : *r) ToProto(s, resp->add_series());
  }
  return Done(ctx, r.status());
}

namespace {

absl::StatusOr<std::unique_ptr<StreamPass>> OpenRunStream(AccessGate* gate, grpc::CallbackServerContext* ctx,
                                                          const char* method, int64_t run_id) {
  absl::StatusOr<Principal> p = gate->Admit(ctx, method);
  if (!p.ok()) return p.status();
  if (absl::Status s = PositiveId(run_id, "run_id"); !s.ok()) return s;
  if (absl::Status s = gate->CheckRun(*p, run_id, false); !s.ok()) return s;
  return StreamPass::Open(gate->access(), *std::move(p));
}

}  // namespace

grpc::ServerWriteReactor<gwo::v1::StreamMetricsResponse>* MetricServiceImpl::StreamMetrics(
    grpc::CallbackServerContext* ctx, const gwo::v1::StreamMetricsRequest* req) {
  absl::StatusOr<std::unique_ptr<StreamPass>> pass = OpenRunStream(gate_, ctx, "MetricService/StreamMetrics", req->run_id());
  if (!pass.ok()) return new RefusedWriter<gwo::v1::StreamMetricsResponse>(pass.status());
  return NewMetricStream(core_, *req, *std::move(pass));
}

grpc::ServerWriteReactor<gwo::v1::StreamLogsResponse>* MetricServiceImpl::StreamLogs(
    grpc::CallbackServerContext* ctx, const gwo::v1::StreamLogsRequest* req) {
  absl::StatusOr<std::unique_ptr<StreamPass>> pass = OpenRunStream(gate_, ctx, "MetricService/StreamLogs", req->run_id());
  if (!pass.ok()) return new RefusedWriter<gwo::v1::StreamLogsResponse>(pass.status());
  return NewLogStream(core_, *req, *std::move(pass));
}

}  // namespace gwo::server
