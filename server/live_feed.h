// LiveFeed: tells live streams that a run has new data. The coordinator calls
// Notify(run) after it committed metrics or logs of the run, or ended an attempt;
// a stream registered for the run then reads what is new from the store. Only a
// wake-up crosses here, never data, so a slow stream cannot hold memory or the
// coordinator: Notify runs the registered wakers, which must only set a flag or
// schedule work and return (no I/O, no locks held long, no call back into LiveFeed).
#ifndef GWO_SERVER_LIVE_FEED_H_
#define GWO_SERVER_LIVE_FEED_H_

#include <cstdint>
#include <functional>
#include <map>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace gwo::server {

class LiveFeed {
 public:
  using Waker = std::function<void()>;

  // Registers `waker` for `run_id`; returns a token for Unwatch.
  uint64_t Watch(int64_t run_id, Waker waker);
  // Removes the waker. After it returns, the waker is not running and never runs again.
  void Unwatch(uint64_t token);
  // Runs every waker registered for `run_id`.
  void Notify(int64_t run_id);
  // Number of registered wakers (for tests and metrics).
  int watchers();

 private:
  struct Entry {
    int64_t run_id = 0;
    Waker waker;
  };
  absl::Mutex mu_;
  uint64_t next_token_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<uint64_t, Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::multimap<int64_t, uint64_t> by_run_ ABSL_GUARDED_BY(mu_);
};

}  // namespace gwo::server

#endif  // GWO_SERVER_LIVE_FEED_H_
