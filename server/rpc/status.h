// The one mapping from core errors (absl::Status) to gRPC status.
#ifndef GWO_SERVER_RPC_STATUS_H_
#define GWO_SERVER_RPC_STATUS_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace gwo::server {

grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace gwo::server

#endif  // GWO_SERVER_RPC_STATUS_H_
