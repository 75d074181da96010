// gRPC front of the coordinator <-> worker protocol: one bidirectional stream per
// worker (WorkerStream), converted to calls on the Coordinator.
#ifndef GWO_SERVER_RPC_WORKER_SERVICE_H_
#define GWO_SERVER_RPC_WORKER_SERVICE_H_

#include "gwo/v1/workers.grpc.pb.h"
#include "server/coordinator.h"
#include "server/rpc/access_gate.h"
#include "server/rpc/generation_router.h"

namespace gwo::server {

class WorkerServiceImpl final : public gwo::v1::WorkerService::CallbackService {
 public:
  // `router`: where workers' generation chunks go and which workers serve generation
  // (null: none do).
  // `gate` admits workers (a worker token, or a client certificate where the gate
  // takes them). `require_client_certificate`: refuse streams whose peer presented
  // no verified TLS client certificate (the coordinator's --tls_client_ca).
  WorkerServiceImpl(Coordinator* core, GenerationRouter* router, AccessGate* gate,
                    bool require_client_certificate = false)
      : core_(core), router_(router), gate_(gate), require_client_certificate_(require_client_certificate) {}

  grpc::ServerBidiReactor<gwo::v1::WorkerMessage, gwo::v1::CoordinatorMessage>* Connect(
      grpc::CallbackServerContext* ctx) override;

 private:
  Coordinator* const core_;
  GenerationRouter* const router_;
  AccessGate* const gate_;
  const bool require_client_certificate_;
};

}  // namespace gwo::server

#endif  // GWO_SERVER_RPC_WORKER_SERVICE_H_
