// Routes generation requests from GenerationService calls to the worker streams that
// serve them, and the workers' chunks back. No gRPC types: worker streams implement
// GenerationChannel; callers receive chunks through a sink.
#ifndef GWO_SERVER_RPC_GENERATION_ROUTER_H_
#define GWO_SERVER_RPC_GENERATION_ROUTER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gwo/v1/workers.pb.h"
#include "server/store/store.h"

namespace gwo::server {

// A connected worker, as the router sees it. Calls never block on the network.
class GenerationChannel {
 public:
  virtual ~GenerationChannel() = default;
  virtual void StartGeneration(const gwo::v1::StartGeneration& m) = 0;
  virtual void CancelGeneration(uint64_t request_id) = 0;
};

// Where a request runs: the worker and the checkpoint file on its host.
struct GenerationTarget {
  std::string worker;
  std::string checkpoint_path;
};

// Resolves run + checkpoint name ("final" or empty, "best", "step:N") into a target:
// the worker that ran the run's current attempt, where its output directory is.
// NOT_FOUND: no such run. INVALID_ARGUMENT: another checkpoint name.
// FAILED_PRECONDITION: "final" of a run that has not succeeded, or a run that never
// started (no output directory).
absl::StatusOr<GenerationTarget> ResolveGenerationTarget(const RunRecord& run,
                                                         const std::string& checkpoint);

// ResolveGenerationTarget over the store, remembering the targets of SUCCEEDED runs
// (whose checkpoints no longer change) for `ttl`. A Generate call resolves its target
// on gRPC's callback thread before anything else, and those calls ran one after
// another: with 32 concurrent requests for one run each reading the store in turn, the
// mean first token on the H100 bench was 80-100 ms (15 ms with this). Thread-safe.
class GenerationTargets {
 public:
  explicit GenerationTargets(Store* store, absl::Duration ttl = absl::Seconds(30),
                             size_t max_entries = 1024);

  // The target of `run_id`'s checkpoint (see ResolveGenerationTarget); NOT_FOUND for
  // no such run. `now` is for tests.
  absl::StatusOr<GenerationTarget> Resolve(int64_t run_id, const std::string& checkpoint,
                                           absl::Time now = absl::Now());

 private:
  struct Entry {
    GenerationTarget target;
    absl::Time expires;
  };
  Store* const store_;
  const absl::Duration ttl_;
  const size_t max_entries_;
  absl::Mutex mu_;
  std::map<std::pair<int64_t, std::string>, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

class GenerationRouter {
 public:
  // Receives the chunks of one request in order; the last has response.done. Called
  // from worker stream reactions (or from Start/RemoveWorker), never under the
  // router's lock, and never again after it got the last chunk or after Cancel.
  using Sink = std::function<void(const gwo::v1::GenerationChunk&)>;

  // `shared_filesystem`: every worker sees every run's output directory, so any
  // connected worker may serve a run whose own worker is gone.
  explicit GenerationRouter(bool shared_filesystem) : shared_filesystem_(shared_filesystem) {}

  void AddWorker(const std::string& name, GenerationChannel* channel) ABSL_LOCKS_EXCLUDED(mu_);
  // Ends the worker's live requests with UNAVAILABLE. No call reaches `channel` after.
  void RemoveWorker(GenerationChannel* channel) ABSL_LOCKS_EXCLUDED(mu_);

  // Sends the request to target.worker (or, with a shared filesystem and that worker
  // gone, to another connected one) and returns its id. UNAVAILABLE when no suitable
  // worker is connected (sink not called).
  absl::StatusOr<uint64_t> Start(const GenerationTarget& target, const gwo::v1::GenerateRequest& request,
                                 Sink sink) ABSL_LOCKS_EXCLUDED(mu_);
  // The client went away: forgets the sink and tells the worker to stop.
  void Cancel(uint64_t request_id) ABSL_LOCKS_EXCLUDED(mu_);
  // A chunk from `from`; chunks of unknown requests (e.g. cancelled) are dropped.
  void OnChunk(GenerationChannel* from, const gwo::v1::GenerationChunk& chunk) ABSL_LOCKS_EXCLUDED(mu_);

  int live() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Live {
    GenerationChannel* channel;
    Sink sink;
  };
  const bool shared_filesystem_;
  absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<std::string, GenerationChannel*> workers_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, Live> live_ ABSL_GUARDED_BY(mu_);
};

}  // namespace gwo::server

#endif  // GWO_SERVER_RPC_GENERATION_ROUTER_H_
