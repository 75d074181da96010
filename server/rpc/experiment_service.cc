#include "server/rpc/experiment_service.h"

#include "server/rpc/convert.h"
#include "server/rpc/status.h"

namespace gwo::server {

grpc::ServerUnaryReactor* ExperimentServiceImpl::SubmitExperiment(grpc::CallbackServerContext* ctx,
                                                                  const gwo::v1::SubmitExperimentRequest* req,
                                                                  gwo::v1::SubmitExperimentResponse* resp) {
  absl::StatusOr<SubmitResult> r = core_->Submit(req->spec_yaml(), req->file_name(), req->idempotency_key(),
                                                req->scale());
  if (!r.ok()) return Done(ctx, r.status());
  ToProto(r->experiment, resp->mutable_experiment());
  for (const RunRecord& run : r->runs) ToProto(run, resp->add_runs());
  resp->set_deduplicated(r->deduplicated);
  return Done(ctx, absl::OkStatus());
}

grpc::ServerUnaryReactor* ExperimentServiceImpl::GetExperiment(grpc::CallbackServerContext* ctx,
                                                               const gwo::v1::GetExperimentRequest* req,
                                                               gwo::v1::GetExperimentResponse* resp) {
  if (absl::Status s = PositiveId(req->experiment_id(), "experiment_id"); !s.ok()) return Done(ctx, s);
  absl::StatusOr<ExperimentRecord> r = core_->store()->GetExperiment(req->experiment_id());
  if (r.ok()) ToProto(*r, resp->mutable_experiment());
  return Done(ctx, r.status());
}

grpc::ServerUnaryReactor* ExperimentServiceImpl::ListExperiments(grpc::CallbackServerContext* ctx,
                                                                 const gwo::v1::ListExperimentsRequest* req,
                                                                 gwo::v1::ListExperimentsResponse* resp) {
  if (req->limit() < 0) return Done(ctx, absl::InvalidArgumentError("limit must be >= 0"));
  absl::StatusOr<std::vector<ExperimentRecord>> r =
      core_->store()->ListExperiments(req->limit() == 0 ? 100 : req->limit());
  if (r.ok()) {
    for (const ExperimentRecord& e : *r) ToProto(e, resp->add_experiments());
  }
  return Done(ctx, r.status());
}

grpc::ServerUnaryReactor* ExperimentServiceImpl::ListRuns(grpc::CallbackServerContext* ctx,
                                                          const gwo::v1::ListRunsRequest* req,
                                                          gwo::v1::ListRunsResponse* resp) {
  if (absl::Status s = PositiveId(req->experiment_id(), "experiment_id"); !s.ok()) return Done(ctx, s);
  absl::StatusOr<std::vector<RunRecord>> r = core_->store()->ListRuns(req->experiment_id());
  if (r.ok()) {
    for (const RunRecord& run : *r) ToProto(run, resp->add_runs());
  }
  return Done(ctx, r.status());
}

grpc::ServerUnaryReactor* ExperimentServiceImpl::GetRun(grpc::CallbackServerContext* ctx,
                                                        const gwo::v1::GetRunRequest* req,
                                                        gwo::v1::GetRunResponse* resp) {
  if (absl::Status s = PositiveId(req->run_id(), "run_id"); !s.ok()) return Done(ctx, s);
  absl::StatusOr<RunRecord> r = core_->store()->GetRun(req->run_id());
  if (r.ok()) ToProto(*r, resp->mutable_run());
  return Done(ctx, r.status());
}

grpc::ServerUnaryReactor* ExperimentServiceImpl::CancelExperiment(grpc::CallbackServerContext* ctx,
                                                                  const gwo::v1::CancelExperimentRequest* req,
                                                                  gwo::v1::CancelExperimentResponse* resp) {
  if (absl::Status s = PositiveId(req->experiment_id(), "experiment_id"); !s.ok()) return Done(ctx, s);
  absl::StatusOr<int> r = core_->CancelExperiment(req->experiment_id());
  if (r.ok()) resp->set_cancelled_runs(*r);
  return Done(ctx, r.status());
}

grpc::ServerUnaryReactor* ExperimentServiceImpl::CancelRun(grpc::CallbackServerContext* ctx,
                                                           const gwo::v1::CancelRunRequest* req,
                                                           gwo::v1::CancelRunResponse* resp) {
  if (absl::Status s = PositiveId(req->run_id(), "run_id"); !s.ok()) return Done(ctx, s);
  absl::StatusOr<bool> r = core_->CancelRun(req->run_id());
  if (r.ok()) resp->set_cancelled(*r);
  return Done(ctx, r.status());
}

}  // namespace gwo::server
