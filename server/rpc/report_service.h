// gRPC front of ReportService: the experiment report table and run comparison.
// Statistics live in server/report (pure); this only gathers records and converts.
#ifndef GWO_SERVER_RPC_REPORT_SERVICE_H_
#define GWO_SERVER_RPC_REPORT_SERVICE_H_

#include "gwo/v1/reports.grpc.pb.h"
#include "server/coordinator.h"
#include "server/rpc/access_gate.h"

namespace gwo::server {

class ReportServiceImpl final : public gwo::v1::ReportService::CallbackService {
 public:
  ReportServiceImpl(Coordinator* core, AccessGate* gate) : core_(core), gate_(gate) {}

  grpc::ServerUnaryReactor* GetReport(grpc::CallbackServerContext* ctx, const gwo::v1::GetReportRequest* req,
                                      gwo::v1::GetReportResponse* resp) override;
  grpc::ServerUnaryReactor* CompareRuns(grpc::CallbackServerContext* ctx, const gwo::v1::CompareRunsRequest* req,
                                        gwo::v1::CompareRunsResponse* resp) override;

 private:
  Coordinator* const core_;
  AccessGate* const gate_;
};

}  // namespace gwo::server

#endif  // GWO_SERVER_RPC_REPORT_SERVICE_H_
