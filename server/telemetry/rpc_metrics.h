// A gRPC server interceptor that times every call and records it in
// gwo_rpc_duration_seconds{method, code}. Methods outside the given services are
// labelled "unknown", so a client cannot create label values at will.
#ifndef GWO_SERVER_TELEMETRY_RPC_METRICS_H_
#define GWO_SERVER_TELEMETRY_RPC_METRICS_H_

#include <memory>
#include <string>
#include <vector>

#include "common/metrics/registry.h"
#include "grpcpp/support/server_interceptor.h"

namespace gwo::server {

// `services`: full service names ("gwo.v1.ExperimentService") whose methods are
// labelled by name. `duration` must outlive the server.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeRpcMetricsInterceptorFactory(
    metrics::Family<metrics::Histogram>* duration, const std::vector<std::string>& services);

// "OK", "NOT_FOUND", ... for a gRPC status code.
std::string GrpcCodeName(int code);

}  // namespace gwo::server

#endif  // GWO_SERVER_TELEMETRY_RPC_METRICS_H_
