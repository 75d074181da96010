// gwo-worker's side of text generation: relays StartGeneration / CancelGeneration
// from the coordinator to a long-lived `gwo-train --serve` child (started on first
// use, started again on the next request after it dies) and the child's replies back
// as GenerationOutput messages. The child speaks worker/generate/protocol.h over its
// stdin and stdout; its stderr goes to the worker's log.
#ifndef GWO_WORKER_AGENT_GENERATION_PROXY_H_
#define GWO_WORKER_AGENT_GENERATION_PROXY_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/subprocess.h"
#include "gwo/v1/workers.pb.h"

namespace gwo::worker {

class GenerationProxy {
 public:
  using SendFn = std::function<void(gwo::v1::WorkerMessage)>;

  // `argv`: the serve child's command line, e.g. {gwo-train, --serve}. `send`
  // queues a message to the coordinator; it is called from the proxy's reader thread.
  GenerationProxy(std::vector<std::string> argv, SendFn send);
  // Closes the child's stdin (it cancels what runs and exits), waits up to 10 s, then
  // kills it.
  ~GenerationProxy();

  // Starts the child if none runs and passes the request on. When the child cannot
  // be started or written to, the request ends at once with an UNAVAILABLE chunk.
  void Start(const gwo::v1::StartGeneration& m) ABSL_LOCKS_EXCLUDED(mu_);
  // Passes a cancellation on; no-op for an unknown request.
  void Cancel(uint64_t request_id) ABSL_LOCKS_EXCLUDED(mu_);
  // Cancels every live request (the coordinator connection was lost).
  void CancelAll() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  absl::Status EnsureChildLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status WriteLocked(const std::string& line) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ReadLoop(int fd);
  // Sends the final chunk of `request_id` with `status`.
  void SendError(uint64_t request_id, const absl::Status& status);

  const std::vector<std::string> argv_;
  const SendFn send_;
  std::atomic<bool> stopping_{false};

  absl::Mutex mu_;
  std::unique_ptr<Subprocess> child_ ABSL_GUARDED_BY(mu_);  // null: none running
  bool child_alive_ ABSL_GUARDED_BY(mu_) = false;          // false once its output ended
  std::thread reader_ ABSL_GUARDED_BY(mu_);
  std::set<uint64_t> live_ ABSL_GUARDED_BY(mu_);           // requests the child owes an end
};

}  // namespace gwo::worker

#endif  // GWO_WORKER_AGENT_GENERATION_PROXY_H_
