// gRPC front of MetricService: full and downsampled series, and the live metric
// and log streams (live_streams.h). No logic of its own.
#ifndef GWO_SERVER_RPC_METRIC_SERVICE_H_
#define GWO_SERVER_RPC_METRIC_SERVICE_H_

#include "gwo/v1/metrics.grpc.pb.h"
#include "server/coordinator.h"
#include "server/rpc/access_gate.h"

namespace gwo::server {

class MetricServiceImpl final : public gwo::v1::MetricService::CallbackService {
 public:
  MetricServiceImpl(Coordinator* core, AccessGate* gate) : core_(core), gate_(gate) {}

  grpc::ServerUnaryReactor* QueryMetrics(grpc::CallbackServerContext* ctx, const gwo::v1::QueryMetricsRequest* req,
                                         gwo::v1::QueryMetricsResponse* resp) override;
  grpc::ServerUnaryReactor* QueryMetricSeries(grpc::CallbackServerContext* ctx,
                                              const gwo::v1::QueryMetricSeriesRequest* req,
                                              gwo::v1::QueryMetricSeriesResponse* resp) override;
  grpc::ServerWriteReactor<gwo::v1::StreamMetricsResponse>* StreamMetrics(
      grpc::CallbackServerContext* ctx, const gwo::v1::StreamMetricsRequest* req) override;
  grpc::ServerWriteReactor<gwo::v1::StreamLogsResponse>* StreamLogs(grpc::CallbackServerContext* ctx,
                                                                    const gwo::v1::StreamLogsRequest* req) override;

 private:
  Coordinator* const core_;
  AccessGate* const gate_;
};

}  // namespace gwo::server

#endif  // GWO_SERVER_RPC_METRIC_SERVICE_H_
