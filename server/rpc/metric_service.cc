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
  if (absl::Status s = PositiveId(req->run_id(), "run_id"); !s.ok()) return Done(ctx, s);
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
  if (absl::Status s = PositiveId(req->run_id(), "run_id"); !s.ok()) return Done(ctx, s);
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

grpc::ServerWriteReactor<gwo::v1::StreamMetricsResponse>* MetricServiceImpl::StreamMetrics(
    grpc::CallbackServerContext*, const gwo::v1::StreamMetricsRequest* req) {
  return NewMetricStream(core_, *req);
}

grpc::ServerWriteReactor<gwo::v1::StreamLogsResponse>* MetricServiceImpl::StreamLogs(
    grpc::CallbackServerContext*, const gwo::v1::StreamLogsRequest* req) {
  return NewLogStream(core_, *req);
}

}  // namespace gwo::server
