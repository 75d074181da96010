#include "server/rpc/queue_service.h"

#include "server/rpc/status.h"

namespace gwo::server {

const char kEtaMethod[] =
    "simulated: each running attempt ends after (total_steps - step) / its observed steps per second "
    "(step / time since the attempt started); waiting runs, in queue order, take the first slot that comes "
    "free on a worker that can hold them, after their dependencies end, and run total_steps / the mean "
    "observed rate; unknown until some attempt has reported progress";

grpc::ServerUnaryReactor* QueueServiceImpl::GetQueue(grpc::CallbackServerContext* ctx,
                                                     const gwo::v1::GetQueueRequest* req,
                                                     gwo::v1::GetQueueResponse* resp) {
  absl::StatusOr<Principal> p = gate_->Admit(ctx, "QueueService/GetQueue");
  if (!p.ok()) return Done(ctx, p.status());
  if (req->experiment_id() > 0) {
    if (absl::Status s = gate_->CheckExperiment(*p, req->experiment_id(), false); !s.ok()) return Done(ctx, s);
  }
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  if (req->experiment_id() < 0) {
    reactor->Finish(ToGrpcStatus(absl::InvalidArgumentError("experiment_id must be >= 0")));
    return reactor;
  }
  absl::StatusOr<std::vector<QueueEntry>> queue = core_->Queue();
  if (queue.ok()) {
    for (const QueueEntry& e : *queue) {
      if (req->experiment_id() != 0 && e.experiment_id != req->experiment_id()) continue;
      // Others' runs wait in the same queue: they are counted in the positions but
      // not named.
      if (!p->CanRead(e.project)) continue;
      gwo::v1::QueuedRun* r = resp->add_runs();
      r->set_run_id(e.run_id);
      r->set_experiment_id(e.experiment_id);
      r->set_name(e.name);
      r->set_position(e.position);
      r->set_reason(e.reason);
      r->set_has_eta(e.eta_s.has_value());
      r->set_eta_seconds(e.eta_s.value_or(0));
      r->set_priority(e.priority);
      r->set_project(e.project);
      r->set_gpus(e.gpus);
    }
    resp->set_eta_method(kEtaMethod);
  }
  reactor->Finish(ToGrpcStatus(queue.status()));
  return reactor;
}

}  // namespace gwo::server
