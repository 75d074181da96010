#include "server/rpc/worker_service.h"

#include <deque>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "server/rpc/convert.h"
#include "server/rpc/status.h"

namespace gwo::server {
namespace {

using gwo::v1::CoordinatorMessage;
using gwo::v1::WorkerMessage;

// One worker's stream. It always keeps one read outstanding, so the end of the
// call, whoever ends it, arrives as OnReadDone(false), which tells the core the
// worker is gone before OnDone deletes the stream. Writes are queued and sent one
// at a time. Store calls run inside the reactions: they are short, bounded
// database round trips (a deliberate simplification of the callback API's
// "no blocking in reactions" rule for this low-rate stream; the pool's bounded
// wait and libpq's connect timeout keep them bounded when the database is down).
//
// Reports carry the worker's spool sequence number. Each one handled is
// acknowledged (Ack), in order. One the core could not store (UNAVAILABLE) is not,
// and the reports after it are skipped until the worker sends it again, so that
// nothing is acknowledged, or applied, ahead of a report still missing.
class WorkerStream final : public grpc::ServerBidiReactor<WorkerMessage, CoordinatorMessage>,
                           public WorkerChannel,
                           public GenerationChannel {
 public:
  WorkerStream(Coordinator* core, GenerationRouter* router, grpc::CallbackServerContext* ctx,
               std::unique_ptr<StreamPass> pass)
      : core_(core), router_(router), ctx_(ctx), pass_(std::move(pass)) {
    StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    if (!ok || finished()) {
      if (worker_id_ > 0) Gone();
      FinishOnce(grpc::Status::OK);
      return;
    }
    absl::Status s = Handle(in_);
    if (!s.ok()) {
      LogWarning(absl::StrCat("closing worker stream from ", ctx_->peer(), ": ", s.ToString()));
      if (worker_id_ > 0) Gone();
      FinishOnce(ToGrpcStatus(s));
      return;
    }
    StartRead(&in_);
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!out_.empty()) out_.pop_front();
    if (!ok) out_.clear();  // the call is over; OnReadDone(false) follows
    StartNextWriteLocked();
  }

  void OnDone() override { delete this; }

  // WorkerChannel:
  void Assign(const Assignment& a) override {
    CoordinatorMessage m;
    gwo::v1::AssignAttempt* assign = m.mutable_assign();
    assign->mutable_attempt()->set_run_id(a.run_id);
    assign->mutable_attempt()->set_attempt(a.attempt);
    assign->set_run_spec_yaml(a.spec_yaml);
    assign->set_run_name(a.run_name);
    for (int g : a.gpus) assign->add_gpus(g);
    for (const std::string& dir : a.resume_dirs) assign->add_resume_dirs(dir);
    Enqueue(std::move(m));
  }

  void Stop(int64_t run_id, int attempt, const std::string& reason) override {
    CoordinatorMessage m;
    m.mutable_stop()->mutable_attempt()->set_run_id(run_id);
    m.mutable_stop()->mutable_attempt()->set_attempt(attempt);
    m.mutable_stop()->set_reason(reason);
    Enqueue(std::move(m));
  }

  void Disconnect(const std::string& reason) override {
    FinishOnce(grpc::Status(grpc::StatusCode::UNAVAILABLE, reason));
  }

  // GenerationChannel:
  void StartGeneration(const gwo::v1::StartGeneration& start) override {
    CoordinatorMessage m;
    *m.mutable_generate() = start;
    Enqueue(std::move(m));
  }

  void CancelGeneration(uint64_t request_id) override {
    CoordinatorMessage m;
    m.mutable_cancel_generation()->set_request_id(request_id);
    Enqueue(std::move(m));
  }

 private:
  void Gone() {
    if (router_ != nullptr) router_->RemoveWorker(this);
    core_->WorkerGone(worker_id_, this);
  }

  bool finished() {
    absl::MutexLock lock(&mu_);
    return finish_requested_;
  }

  absl::Status Handle(const WorkerMessage& m) {
    GWO_RETURN_IF_ERROR(pass_->StillValid());  // a revoked worker token ends the stream
    if (worker_id_ == 0 && !m.has_register_()) {
      return absl::FailedPreconditionError("the first message of a worker stream must be `register`");
    }
    if (m.has_register_()) return Register(m.register_());
    if (m.has_heartbeat()) {
      core_->Heartbeat(worker_id_);
      return absl::OkStatus();
    }
    // A report after one still missing: dropped, the worker sends it again.
    if (blocked_seq_ > 0 && m.seq() > blocked_seq_) {
      core_->Heartbeat(worker_id_);
      return absl::OkStatus();
    }
    absl::Status outcome = absl::OkStatus();
    GWO_RETURN_IF_ERROR(Report(m, &outcome));
    if (m.seq() == 0) return absl::OkStatus();  // not spooled: nothing to acknowledge
    if (!outcome.ok()) {
      if (blocked_seq_ == 0 || m.seq() < blocked_seq_) blocked_seq_ = m.seq();
      return absl::OkStatus();
    }
    if (m.seq() == blocked_seq_) blocked_seq_ = 0;
    CoordinatorMessage ack;
    ack.mutable_ack()->set_seq(m.seq());
    Enqueue(std::move(ack));
    return absl::OkStatus();
  }

  // Hands one report to the core. The returned status is the stream's (a malformed
  // report ends it); `*outcome` is the core's (OK: handled; UNAVAILABLE: not stored).
  absl::Status Report(const WorkerMessage& m, absl::Status* outcome) {
    switch (m.msg_case()) {
      case WorkerMessage::kRegister:
      case WorkerMessage::kHeartbeat: return absl::OkStatus();  // handled by Handle
      case WorkerMessage::kStarted:
        *outcome = core_->OnAttemptStarted(worker_id_, m.started().attempt().run_id(),
                                           m.started().attempt().attempt(), m.started().output_dir(),
                                           m.started().resumed_from_step());
        return absl::OkStatus();
      case WorkerMessage::kMetrics: {
        std::vector<MetricPointRecord> points;
        points.reserve(m.metrics().points_size());
        for (const auto& p : m.metrics().points()) points.push_back({p.step(), p.name(), p.value()});
        *outcome = core_->OnMetrics(worker_id_, m.metrics().attempt().run_id(), m.metrics().attempt().attempt(),
                                    points, m.metrics().backfill());
        return absl::OkStatus();
      }
      case WorkerMessage::kLogs: {
        std::vector<std::string> lines(m.logs().lines().begin(), m.logs().lines().end());
        *outcome = core_->OnLogs(worker_id_, m.logs().attempt().run_id(), m.logs().attempt().attempt(), lines,
                                 m.logs().first_line());
        return absl::OkStatus();
      }
      case WorkerMessage::kFinished: {
        const auto& f = m.finished();
        std::optional<RunState> state = FromProto(f.state());
        if (!state.has_value() || *state == RunState::kQueued || *state == RunState::kRunning) {
          return absl::InvalidArgumentError(
              absl::StrCat("finished: state must be SUCCEEDED, FAILED or CANCELLED, got ",
                           gwo::v1::RunState_Name(f.state())));
        }
        *outcome = core_->OnAttemptFinished(worker_id_, f.attempt().run_id(), f.attempt().attempt(), *state,
                                            f.error(), f.retryable());
        return absl::OkStatus();
      }
      case WorkerMessage::kGeneration:
        if (router_ != nullptr) {
          for (const auto& chunk : m.generation().chunks()) router_->OnChunk(this, chunk);
        }
        return absl::OkStatus();
      case WorkerMessage::MSG_NOT_SET: return absl::InvalidArgumentError("empty worker message");
    }
    return absl::InvalidArgumentError("unknown worker message");
  }

  absl::Status Register(const gwo::v1::RegisterWorker& r) {
    if (worker_id_ != 0) return absl::FailedPreconditionError("worker registered twice on one stream");
    if (r.name().empty()) return absl::InvalidArgumentError("register: name must not be empty");
    if (r.slots() < 1) return absl::InvalidArgumentError("register: slots must be >= 1");
    WorkerInfo info;
    info.name = r.name();
    info.hostname = r.hostname();
    info.slots = r.slots();
    info.devices = DevicesOf(r);
    info.devices_json = DevicesJson(r);
    std::vector<AttemptKey> running;
    for (const auto& a : r.running()) running.push_back({a.run_id(), a.attempt()});
    absl::StatusOr<int64_t> id = core_->RegisterWorker(info, running, this);
    if (!id.ok()) return id.status();
    worker_id_ = *id;
    // The registration answer goes out first, ahead of anything queued meanwhile.
    CoordinatorMessage reply;
    reply.mutable_registered()->set_worker_id(worker_id_);
    reply.mutable_registered()->set_heartbeat_interval_ms(
        static_cast<int32_t>(absl::ToInt64Milliseconds(core_->options().heartbeat_interval)));
    if (router_ != nullptr) router_->AddWorker(r.name(), this);
    absl::MutexLock lock(&mu_);
    out_.push_front(std::move(reply));
    hold_writes_ = false;
    StartNextWriteLocked();
    return absl::OkStatus();
  }

  void Enqueue(CoordinatorMessage m) {
    absl::MutexLock lock(&mu_);
    if (finish_requested_) return;
    out_.push_back(std::move(m));
    StartNextWriteLocked();
  }

  void StartNextWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || hold_writes_) return;
    if (!out_.empty() && !finish_sent_) {
      writing_ = true;
      StartWrite(&out_.front());  // stays alive in the deque until OnWriteDone
      return;
    }
    if (finish_requested_ && !finish_sent_) {
      finish_sent_ = true;
      Finish(finish_status_);
    }
  }

  void FinishOnce(const grpc::Status& status) {
    absl::MutexLock lock(&mu_);
    if (finish_requested_) return;
    finish_requested_ = true;
    finish_status_ = status;
    hold_writes_ = false;
    // Drop what is not yet on the wire; finish once the write in flight is done.
    while (out_.size() > (writing_ ? 1u : 0u)) out_.pop_back();
    StartNextWriteLocked();
  }

  Coordinator* const core_;
  GenerationRouter* const router_;  // may be null
  grpc::CallbackServerContext* const ctx_;
  const std::unique_ptr<StreamPass> pass_;
  WorkerMessage in_;
  int64_t worker_id_ = 0;  // set by Register; only the read reactions touch it
  int64_t blocked_seq_ = 0;  // the first report not stored, 0: none; read reactions only

  absl::Mutex mu_;
  std::deque<CoordinatorMessage> out_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool hold_writes_ ABSL_GUARDED_BY(mu_) = true;  // until the registration answer
  bool finish_requested_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_sent_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status finish_status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

namespace {

// A stream refused before it starts.
class RefusedStream : public grpc::ServerBidiReactor<WorkerMessage, CoordinatorMessage> {
 public:
  explicit RefusedStream(grpc::Status status) { Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerBidiReactor<WorkerMessage, CoordinatorMessage>* WorkerServiceImpl::Connect(
    grpc::CallbackServerContext* ctx) {
  if (require_client_certificate_ && !ctx->auth_context()->IsPeerAuthenticated()) {
    LogWarning(absl::StrCat("refused a worker stream from ", ctx->peer(), ": no verified client certificate"));
    return new RefusedStream(grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                                          "workers need a TLS client certificate signed by the coordinator's "
                                          "--tls_client_ca (gwo-worker --tls_cert/--tls_key)"));
  }
  absl::StatusOr<Principal> p = gate_->Admit(ctx, "WorkerService/Connect");
  absl::StatusOr<std::unique_ptr<StreamPass>> pass =
      p.ok() ? StreamPass::Open(gate_->access(), *p) : absl::StatusOr<std::unique_ptr<StreamPass>>(p.status());
  if (p.ok()) gate_->Audit(ctx, &*p, "WorkerService/Connect", "worker stream", pass.status());
  if (!pass.ok()) {
    LogWarning(absl::StrCat("refused a worker stream from ", ctx->peer(), ": ", pass.status().message()));
    return new RefusedStream(ToGrpcStatus(pass.status()));
  }
  return new WorkerStream(core_, router_, ctx, *std::move(pass));
}

}  // namespace gwo::server
