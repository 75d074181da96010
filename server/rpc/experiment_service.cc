#include "server/rpc/experiment_service.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/rpc/convert.h"
#include "server/rpc/status.h"

namespace gwo::server {
namespace {

constexpr char kSubmit[] = "ExperimentService/SubmitExperiment";
constexpr char kCancelExperiment[] = "ExperimentService/CancelExperiment";
constexpr char kCancelRun[] = "ExperimentService/CancelRun";

}  // namespace

grpc::ServerUnaryReactor* ExperimentServiceImpl::SubmitExperiment(grpc::CallbackServerContext* ctx,
                                                                  const gwo::v1::SubmitExperimentRequest* req,
                                                                  gwo::v1::SubmitExperimentResponse* resp) {
  absl::StatusOr<Principal> p = gate_->Admit(ctx, kSubmit);
  if (!p.ok()) return Done(ctx, p.status());
  Submitter by;
  by.user = p->user;
  by.may_submit_to = [&](const std::string& project) { return gate_->CheckProject(*p, project, /*write=*/true); };
  by.may_read_run = [&](int64_t run) { return gate_->CheckRun(*p, run, /*write=*/false).ok(); };
  absl::StatusOr<SubmitResult> r = core_->Submit(req->spec_yaml(), req->file_name(), req->idempotency_key(),
                                                req->scale(), by);
  // A retry finds its experiment; someone else's key is not theirs to see.
  if (r.ok() && r->deduplicated && !p->CanRead(r->experiment.project)) {
    r = absl::AlreadyExistsError("this idempotency key is taken: submit with another one");
  }
  gate_->Audit(ctx, &*p, kSubmit, r.ok() ? absl::StrCat("exp-", r->experiment.id) : req->file_name(), r.status());
  if (!r.ok()) return Done(ctx, r.status());
  ToProto(r->experiment, resp->mutable_experiment());
  for (const RunRecord& run : r->runs) ToProto(run, resp->add_runs());
  resp->set_deduplicated(r->deduplicated);
  return Done(ctx, absl::OkStatus());
}

grpc::ServerUnaryReactor* ExperimentServiceImpl::GetExperiment(grpc::CallbackServerContext* ctx,
                                                               const gwo::v1::GetExperimentRequest* req,
                                                               gwo::v1::GetExperimentResponse* resp) {
  absl::StatusOr<Principal> p = gate_->Admit(ctx, "ExperimentService/GetExperiment");
  if (!p.ok()) return Done(ctx, p.status());
  if (absl::Status s = PositiveId(req->experiment_id(), "experiment_id"); !s.ok()) return Done(ctx, s);
  if (absl::Status s = gate_->CheckExperiment(*p, req->experiment_id(), false); !s.ok()) return Done(ctx, s);
  absl::StatusOr<ExperimentRecord> r = core_->store()->GetExperiment(req->experiment_id());
  if (r.ok()) ToProto(*r, resp->mutable_experiment());
  return Done(ctx, r.status());
}

grpc::ServerUnaryReactor* ExperimentServiceImpl::ListExperiments(grpc::CallbackServerContext* ctx,
                                                                 const gwo::v1::ListExperimentsRequest* req,
                                                                 gwo::v1::ListExperimentsResponse* resp) {
  absl::StatusOr<Principal> p = gate_->Admit(ctx, "ExperimentService/ListExperiments");
  if (!p.ok()) return Done(ctx, p.status());
  if (req->limit() < 0) return Done(ctx, absl::InvalidArgumentError("limit must be >= 0"));
  std::optional<std::vector<std::string>> projects;
  if (p->role != Role::kAdmin) projects.emplace(p->projects.begin(), p->projects.end());
  absl::StatusOr<std::vector<ExperimentRecord>> r =
      core_->store()->ListExperiments(req->limit() == 0 ? 100 : req->limit(), projects);
  if (r.ok()) {
    for (const ExperimentRecord& e : *r) ToProto(e, resp->add_experiments());
  }
  return Done(ctx, r.status());
}

grpc::ServerUnaryReactor* ExperimentServiceImpl::ListRuns(grpc::CallbackServerContext* ctx,
                                                          const gwo::v1::ListRunsRequest* req,
                                                          gwo::v1::ListRunsResponse* resp) {
  absl::StatusOr<Principal> p = gate_->Admit(ctx, "ExperimentService/ListRuns");
  if (!p.ok()) return Done(ctx, p.status());
  if (absl::Status s = PositiveId(req->experiment_id(), "experiment_id"); !s.ok()) return Done(ctx, s);
  if (absl::Status s = gate_->CheckExperiment(*p, req->experiment_id(), false); !s.ok()) return Done(ctx, s);
  absl::StatusOr<std::vector<RunRecord>> r = core_->store()->ListRuns(req->experiment_id());
  if (r.ok()) {
    for (const RunRecord& run : *r) ToProto(run, resp->add_runs());
  }
  return Done(ctx, r.status());
}

grpc::ServerUnaryReactor* ExperimentServiceImpl::GetRun(grpc::CallbackServerContext* ctx,
                                                        const gwo::v1::GetRunRequest* req,
                                                        gwo::v1::GetRunResponse* resp) {
  absl::StatusOr<Principal> p = gate_->Admit(ctx, "ExperimentService/GetRun");
  if (!p.ok()) return Done(ctx, p.status());
  if (absl::Status s = PositiveId(req->run_id(), "run_id"); !s.ok()) return Done(ctx, s);
  if (absl::Status s = gate_->CheckRun(*p, req->run_id(), false); !s.ok()) return Done(ctx, s);
  absl::StatusOr<RunRecord> r = core_->store()->GetRun(req->run_id());
  if (r.ok()) ToProto(*r, resp->mutable_run());
  return Done(ctx, r.status());
}

grpc::ServerUnaryReactor* ExperimentServiceImpl::CancelExperiment(grpc::CallbackServerContext* ctx,
                                                                  const gwo::v1::CancelExperimentRequest* req,
                                                                  gwo::v1::CancelExperimentResponse* resp) {
  absl::StatusOr<Principal> p = gate_->Admit(ctx, kCancelExperiment);
  if (!p.ok()) return Done(ctx, p.status());
  absl::Status s = PositiveId(req->experiment_id(), "experiment_id");
  if (s.ok()) s = gate_->CheckExperiment(*p, req->experiment_id(), true);
  if (s.ok()) {
    absl::StatusOr<int> r = core_->CancelExperiment(req->experiment_id());
    if (r.ok()) resp->set_cancelled_runs(*r);
    s = r.status();
  }
  gate_->Audit(ctx, &*p, kCancelExperiment, absl::StrCat("exp-", req->experiment_id()), s);
  return Done(ctx, s);
}

grpc::ServerUnaryReactor* ExperimentServiceImpl::CancelRun(grpc::CallbackServerContext* ctx,
                                                           const gwo::v1::CancelRunRequest* req,
                                                           gwo::v1::CancelRunResponse* resp) {
  absl::StatusOr<Principal> p = gate_->Admit(ctx, kCancelRun);
  if (!p.ok()) return Done(ctx, p.status());
  absl::Status s = PositiveId(req->run_id(), "run_id");
  if (s.ok()) s = gate_->CheckRun(*p, req->run_id(), true);
  if (s.ok()) {
    absl::StatusOr<bool> r = core_->CancelRun(req->run_id());
    if (r.ok()) resp->set_cancelled(*r);
    s = r.status();
  }
  gate_->Audit(ctx, &*p, kCancelRun, absl::StrCat("run-", req->run_id()), s);
  return Done(ctx, s);
}

}  // namespace gwo::server
