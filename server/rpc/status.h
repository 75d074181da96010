// The one mapping from core errors (absl::Status) to gRPC status.
#ifndef GWO_SERVER_RPC_STATUS_H_
#define GWO_SERVER_RPC_STATUS_H_

#include "absl/status/status.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/server_callback.h"
#include "grpcpp/support/status.h"

namespace gwo::server {

grpc::Status ToGrpcStatus(const absl::Status& status);

// Finishes a unary callback call with `status`; returns its reactor.
grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* ctx, const absl::Status& status);

// A server-streaming call refused before it starts: finishes at once with `status`
// and deletes itself.
template <class Response>
class RefusedWriter final : public grpc::ServerWriteReactor<Response> {
 public:
  explicit RefusedWriter(const absl::Status& status) { this->Finish(ToGrpcStatus(status)); }
  void OnDone() override { delete this; }
};

// INVALID_ARGUMENT "<what> must be a positive id" unless id > 0.
absl::Status PositiveId(int64_t id, const char* what);

}  // namespace gwo::server

#endif  // GWO_SERVER_RPC_STATUS_H_
