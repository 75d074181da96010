#include "server/rpc/status.h"

#include <string>

namespace gwo::server {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // absl and gRPC share the canonical code numbering.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* ctx, const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

absl::Status PositiveId(int64_t id, const char* what) {
  if (id > 0) return absl::OkStatus();
  return absl::InvalidArgumentError(std::string(what) + " must be a positive id");
}

}  // namespace gwo::server
