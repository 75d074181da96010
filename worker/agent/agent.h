// gwo-worker's agent: dials the coordinator, keeps one bidirectional stream,
// registers its devices, heartbeats, runs assigned attempts as gwo-train children
// and relays their reports. It reconnects with backoff and jitter when the stream
// drops, and keeps its attempts running meanwhile. Reports go through a spool on
// disk (spool.h) and leave it only when the coordinator acknowledges them: those
// not acknowledged are sent again after the next registration (also after a
// restart of the worker), and on a live stream when no acknowledgement came for
// `resend_after` (the coordinator could not store them).
#ifndef GWO_WORKER_AGENT_AGENT_H_
#define GWO_WORKER_AGENT_AGENT_H_

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "gwo/v1/workers.grpc.pb.h"
#include "worker/agent/agent_observer.h"
#include "worker/agent/attempt_runner.h"
#include "worker/agent/spool.h"
#include "worker/agent/generation_proxy.h"

namespace gwo::worker {

struct AgentOptions {
  std::string coordinator = "127.0.0.1:7070";
  std::string name;        // unique worker name
  int slots = 1;           // attempts run at once
  std::string work_dir;    // attempts write under <work_dir>/runs/<run>/attempt-<n>
  std::string trainer_path;
  absl::Duration stop_grace = absl::Seconds(10);
  // Unacknowledged reports are sent again after this long without an acknowledgement.
  absl::Duration resend_after = absl::Seconds(3);
  // Reconnect attempts back off exponentially (with full jitter) up to this; keep it
  // well below the coordinator's worker lease, or a coordinator restart costs the
  // worker its attempts.
  absl::Duration max_reconnect_backoff = absl::Seconds(10);
  std::vector<gwo::v1::Device> devices;
  AgentObserver* observer = nullptr;  // not owned; may be null
  // How the stream to the coordinator is secured; null: plaintext.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  std::string token;  // worker token sent with the stream (gwow_...); empty: none (client certificate)
};

class Agent {
 public:
  // `spool` holds the reports of earlier runs of this worker not yet acknowledged.
  Agent(AgentOptions options, std::unique_ptr<Spool> spool);
  ~Agent();

  // Runs until Shutdown(): connect, serve, reconnect.
  void Run();
  // Stops running attempts and makes Run() return. Safe from any thread.
  void Shutdown();

 private:
  using Stream = grpc::ClientReaderWriter<gwo::v1::WorkerMessage, gwo::v1::CoordinatorMessage>;

  // Serves one connection until it ends.
  void Serve();
  void Handle(const gwo::v1::CoordinatorMessage& m);
  // Spools a report; the writer thread sends spooled reports in order while connected.
  void Send(gwo::v1::WorkerMessage m);
  // Sends a message that is not a report (generation output) on the current stream,
  // ahead of reports, without spooling it; dropped while disconnected (the
  // coordinator ends those generations when the stream goes).
  void SendLive(gwo::v1::WorkerMessage m);
  void WriterLoop(Stream* stream, grpc::ClientContext* ctx);
  void ReapFinished();

  const AgentOptions options_;
  std::atomic<bool> shutdown_{false};

  absl::Mutex mu_;
  absl::CondVar cv_;
  std::unique_ptr<Spool> spool_ ABSL_GUARDED_BY(mu_);
  std::deque<gwo::v1::WorkerMessage> live_ ABSL_GUARDED_BY(mu_);  // see SendLive
  // On the current stream: the highest seq written, and when the acknowledgements
  // last made progress (or sending started from an all-acknowledged state).
  int64_t sent_seq_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time ack_progress_ ABSL_GUARDED_BY(mu_);
  bool connected_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* active_ctx_ ABSL_GUARDED_BY(mu_) = nullptr;
  absl::Duration heartbeat_interval_ ABSL_GUARDED_BY(mu_) = absl::Seconds(5);
  std::map<std::pair<int64_t, int>, std::unique_ptr<AttemptRunner>> runners_ ABSL_GUARDED_BY(mu_);
  // Text generation through a `gwo-train --serve` child (started on first use).
  std::unique_ptr<GenerationProxy> generation_;
};

}  // namespace gwo::worker

#endif  // GWO_WORKER_AGENT_AGENT_H_
