#include "server/rpc/generation_service.h"

#include <deque>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "server/rpc/status.h"

namespace gwo::server {
namespace {

using gwo::v1::GenerateResponse;

// One Generate call. Chunks from the router are queued and written one at a time;
// the final chunk finishes the call with its status. The client going away cancels
// the request on the worker. The router's sink holds a shared State so that a chunk
// arriving after the call is over finds it closed rather than a deleted reactor.
class GenerateCall final : public grpc::ServerWriteReactor<GenerateResponse> {
 public:
  GenerateCall(GenerationTargets* targets, GenerationRouter* router, const gwo::v1::GenerateRequest& request,
               std::unique_ptr<StreamPass> pass)
      : router_(router), pass_(std::move(pass)), state_(std::make_shared<State>()) {
    state_->call = this;
    absl::Status s = Begin(targets, request);
    if (!s.ok()) {
      absl::MutexLock lock(&state_->mu);
      FinishLocked(ToGrpcStatus(s));
    }
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&state_->mu);
    writing_ = false;
    out_.pop_front();
    if (finishing_) {
      SendFinishLocked();
      return;
    }
    if (!ok) {
      CancelOnWorkerLocked();
      FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
      return;
    }
    NextLocked();
  }

  void OnCancel() override {
    absl::MutexLock lock(&state_->mu);
    CancelOnWorkerLocked();
    FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the client"));
  }

  void OnDone() override {
    {
      absl::MutexLock lock(&state_->mu);
      state_->call = nullptr;
    }
    delete this;
  }

 private:
  struct State {
    absl::Mutex mu;
    GenerateCall* call ABSL_GUARDED_BY(mu);  // null once the call is done
  };

  absl::Status Begin(GenerationTargets* targets, const gwo::v1::GenerateRequest& request) {
    if (request.run_id() <= 0) return absl::InvalidArgumentError("run_id must be > 0");
    if (request.max_tokens() < 0) return absl::InvalidArgumentError("max_tokens must be >= 0");
    if (request.temperature() < 0) return absl::InvalidArgumentError("temperature must be >= 0");
    if (request.top_k() < 0) return absl::InvalidArgumentError("top_k must be >= 0");
    if (request.top_p() < 0 || request.top_p() > 1) {
      return absl::InvalidArgumentError("top_p must be in (0, 1] (0: off)");
    }
    absl::StatusOr<GenerationTarget> target = targets->Resolve(request.run_id(), request.checkpoint());
    if (!target.ok()) return target.status();
    std::weak_ptr<State> weak = state_;
    absl::StatusOr<uint64_t> id =
        router_->Start(*target, request, [weak](const gwo::v1::GenerationChunk& chunk) {
          std::shared_ptr<State> state = weak.lock();
          if (!state) return;
          absl::MutexLock lock(&state->mu);
          if (state->call != nullptr) state->call->OnChunkLocked(chunk);
        });
    if (!id.ok()) return id.status();
    absl::MutexLock lock(&state_->mu);
    request_id_ = *id;
    if (finishing_) CancelOnWorkerLocked();  // the client left while it started
    return absl::OkStatus();
  }

  void OnChunkLocked(const gwo::v1::GenerationChunk& chunk) ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_->mu) {
    if (finishing_) return;
    if (absl::Status allowed = pass_->StillValid(); !allowed.ok()) {
      CancelOnWorkerLocked();
      FinishLocked(ToGrpcStatus(allowed));
      return;
    }
    if (chunk.response().done()) {
      worker_done_ = true;
      if (chunk.error_code() != 0) {
        FinishLocked(grpc::Status(static_cast<grpc::StatusCode>(chunk.error_code()), chunk.error_message()));
        return;
      }
      final_ = true;
    }
    out_.push_back(chunk.response());
    NextLocked();
  }

  void NextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_->mu) {
    if (writing_ || finishing_) return;
    if (!out_.empty()) {
      writing_ = true;
      StartWrite(&out_.front());  // stays in the deque until OnWriteDone
    } else if (final_) {
      FinishLocked(grpc::Status::OK);
    }
  }

  void CancelOnWorkerLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_->mu) {
    if (request_id_ != 0 && !worker_done_) router_->Cancel(request_id_);
    worker_done_ = true;
  }

  // Finishes once no write is in flight (queued chunks are dropped).
  void FinishLocked(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_->mu) {
    if (finishing_) return;
    finishing_ = true;
    status_ = status;
    if (!writing_) SendFinishLocked();
  }

  void SendFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_->mu) {
    if (finish_sent_) return;
    finish_sent_ = true;
    Finish(status_);
  }

  GenerationRouter* const router_;
  const std::unique_ptr<StreamPass> pass_;
  std::shared_ptr<State> state_;
  // Guarded by state_->mu:
  uint64_t request_id_ = 0;
  std::deque<GenerateResponse> out_;
  bool writing_ = false;
  bool final_ = false;        // the done chunk is queued
  bool worker_done_ = false;  // the worker sent its last chunk (or was told to stop)
  bool finishing_ = false;
  bool finish_sent_ = false;
  grpc::Status status_;
};

}  // namespace

grpc::ServerWriteReactor<GenerateResponse>* GenerationServiceImpl::Generate(
    grpc::CallbackServerContext* ctx, const gwo::v1::GenerateRequest* request) {
  absl::StatusOr<Principal> p = gate_->Admit(ctx, "GenerationService/Generate");
  absl::Status s = p.status();
  if (s.ok() && request->run_id() > 0) s = gate_->CheckRun(*p, request->run_id(), false);
  if (!s.ok()) return new RefusedWriter<GenerateResponse>(s);
  absl::StatusOr<std::unique_ptr<StreamPass>> pass = StreamPass::Open(gate_->access(), *std::move(p));
  if (!pass.ok()) return new RefusedWriter<GenerateResponse>(pass.status());
  return new GenerateCall(&targets_, router_, *request, *std::move(pass));
}

}  // namespace gwo::server
