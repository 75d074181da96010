// gRPC front of the user API: ExperimentService (MetricService: metric_service.h). Handlers turn
// requests into core calls and results into protos; no logic of their own.
#ifndef GWO_SERVER_RPC_EXPERIMENT_SERVICE_H_
#define GWO_SERVER_RPC_EXPERIMENT_SERVICE_H_

#include "gwo/v1/experiments.grpc.pb.h"
#include "server/coordinator.h"
#include "server/rpc/access_gate.h"

namespace gwo::server {

class ExperimentServiceImpl final : public gwo::v1::ExperimentService::CallbackService {
 public:
  ExperimentServiceImpl(Coordinator* core, AccessGate* gate) : core_(core), gate_(gate) {}

  grpc::ServerUnaryReactor* SubmitExperiment(grpc::CallbackServerContext* ctx,
                                             const gwo::v1::SubmitExperimentRequest* req,
                                             gwo::v1::SubmitExperimentResponse* resp) override;
  grpc::ServerUnaryReactor* GetExperiment(grpc::CallbackServerContext* ctx,
                                          const gwo::v1::GetExperimentRequest* req,
                                          gwo::v1::GetExperimentResponse* resp) override;
  grpc::ServerUnaryReactor* ListExperiments(grpc::CallbackServerContext* ctx,
                                            const gwo::v1::ListExperimentsRequest* req,
                                            gwo::v1::ListExperimentsResponse* resp) override;
  grpc::ServerUnaryReactor* ListRuns(grpc::CallbackServerContext* ctx, const gwo::v1::ListRunsRequest* req,
                                     gwo::v1::ListRunsResponse* resp) override;
  grpc::ServerUnaryReactor* GetRun(grpc::CallbackServerContext* ctx, const gwo::v1::GetRunRequest* req,
                                   gwo::v1::GetRunResponse* resp) override;
  grpc::ServerUnaryReactor* CancelExperiment(grpc::CallbackServerContext* ctx,
                                             const gwo::v1::CancelExperimentRequest* req,
                                             gwo::v1::CancelExperimentResponse* resp) override;
  grpc::ServerUnaryReactor* CancelRun(grpc::CallbackServerContext* ctx, const gwo::v1::CancelRunRequest* req,
                                      gwo::v1::CancelRunResponse* resp) override;

 private:
  Coordinator* const core_;
  AccessGate* const gate_;
};

}  // namespace gwo::server

#endif  // GWO_SERVER_RPC_EXPERIMENT_SERVICE_H_
