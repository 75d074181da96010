// gRPC front of text generation (proto/gwo/v1/generation.proto): resolves the run's
// checkpoint and worker from the store, hands the request to the GenerationRouter and
// streams the worker's chunks to the client.
#ifndef GWO_SERVER_RPC_GENERATION_SERVICE_H_
#define GWO_SERVER_RPC_GENERATION_SERVICE_H_

#include "gwo/v1/generation.grpc.pb.h"
#include "server/rpc/access_gate.h"
#include "server/rpc/generation_router.h"
#include "server/store/store.h"

namespace gwo::server {

class GenerationServiceImpl final : public gwo::v1::GenerationService::CallbackService {
 public:
  GenerationServiceImpl(Store* store, GenerationRouter* router, AccessGate* gate)
      : targets_(store), router_(router), gate_(gate) {}

  grpc::ServerWriteReactor<gwo::v1::GenerateResponse>* Generate(
      grpc::CallbackServerContext* ctx, const gwo::v1::GenerateRequest* request) override;

 private:
  GenerationTargets targets_;
  GenerationRouter* const router_;
  AccessGate* const gate_;
};

}  // namespace gwo::server

#endif  // GWO_SERVER_RPC_GENERATION_SERVICE_H_
