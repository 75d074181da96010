// gwo-worker's agent: dials the coordinator, keeps one bidirectional stream,
// registers its devices, heartbeats, runs assigned attempts as gwo-train children
// and relays their reports. It reconnects with backoff and jitter when the stream
// drops; reports queued meanwhile are sent after the next registration.
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
#include "worker/agent/attempt_runner.h"
#include "worker/agent/generation_proxy.h"

namespace gwo::worker {

struct AgentOptions {
  std::string coordinator = "127.0.0.1:7070";
  std::string name;        // unique worker name
  int slots = 1;           // attempts run at once
  std::string work_dir;    // attempts write under <work_dir>/runs/<run>/attempt-<n>
  std::string trainer_path;
  absl::Duration stop_grace = absl::Seconds(10);
  std::vector<gwo::v1::Device> devices;
};

class Agent {
 public:
  explicit Agent(AgentOptions options);
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
  // Queues a report; the writer thread sends queued reports in order while connected.
  void Send(gwo::v1::WorkerMessage m);
  void WriterLoop(Stream* stream, grpc::ClientContext* ctx);
  void ReapFinished();

  const AgentOptions options_;
  std::atomic<bool> shutdown_{false};

  absl::Mutex mu_;
  absl::CondVar cv_;
  std::deque<gwo::v1::WorkerMessage> outbox_ ABSL_GUARDED_BY(mu_);
  bool connected_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* active_ctx_ ABSL_GUARDED_BY(mu_) = nullptr;
  absl::Duration heartbeat_interval_ ABSL_GUARDED_BY(mu_) = absl::Seconds(5);
  std::map<std::pair<int64_t, int>, std::unique_ptr<AttemptRunner>> runners_ ABSL_GUARDED_BY(mu_);
  // Text generation through a `gwo-train --serve` child (started on first use).
  std::unique_ptr<GenerationProxy> generation_;
};

}  // namespace gwo::worker

#endif  // GWO_WORKER_AGENT_AGENT_H_
