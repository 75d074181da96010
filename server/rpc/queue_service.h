// gRPC front of the queue view (QueueService in experiments.proto).
#ifndef GWO_SERVER_RPC_QUEUE_SERVICE_H_
#define GWO_SERVER_RPC_QUEUE_SERVICE_H_

#include "gwo/v1/experiments.grpc.pb.h"
#include "server/coordinator.h"
#include "server/rpc/access_gate.h"

namespace gwo::server {

// How QueuedRun.eta_seconds is estimated (server/scheduler.h EstimateStarts).
extern const char kEtaMethod[];

class QueueServiceImpl final : public gwo::v1::QueueService::CallbackService {
 public:
  QueueServiceImpl(Coordinator* core, AccessGate* gate) : core_(core), gate_(gate) {}

  grpc::ServerUnaryReactor* GetQueue(grpc::CallbackServerContext* ctx, const gwo::v1::GetQueueRequest* req,
                                     gwo::v1::GetQueueResponse* resp) override;

 private:
  Coordinator* const core_;
  AccessGate* const gate_;
};

}  // namespace gwo::server

#endif  // GWO_SERVER_RPC_QUEUE_SERVICE_H_
