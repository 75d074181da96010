// gRPC front of the coordinator <-> worker protocol: one bidirectional stream per
// worker (WorkerStream), converted to calls on the Coordinator.
#ifndef GWO_SERVER_RPC_WORKER_SERVICE_H_
#define GWO_SERVER_RPC_WORKER_SERVICE_H_

#include "gwo/v1/workers.grpc.pb.h"
#include "server/coordinator.h"

namespace gwo::server {

class WorkerServiceImpl final : public gwo::v1::WorkerService::CallbackService {
 public:
  explicit WorkerServiceImpl(Coordinator* core) : core_(core) {}

  grpc::ServerBidiReactor<gwo::v1::WorkerMessage, gwo::v1::CoordinatorMessage>* Connect(
      grpc::CallbackServerContext* ctx) override;

 private:
  Coordinator* const core_;
};

}  // namespace gwo::server

#endif  // GWO_SERVER_RPC_WORKER_SERVICE_H_
