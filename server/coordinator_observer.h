// Events of the coordinator's core that telemetry counts (server/telemetry/).
// Calls come from the core's threads, sometimes with its locks held: an observer
// must not call back into the Coordinator and should return quickly.
#ifndef GWO_SERVER_COORDINATOR_OBSERVER_H_
#define GWO_SERVER_COORDINATOR_OBSERVER_H_

#include <cstdint>

#include "server/store/store.h"

namespace gwo::server {

class CoordinatorObserver {
 public:
  virtual ~CoordinatorObserver() = default;
  // A claimed attempt was sent to its worker.
  virtual void OnAttemptDispatched(const Assignment& assignment) {}
  // A worker's metric points were stored.
  virtual void OnMetricsIngested(int64_t points) {}
  // A current attempt ended with `state` (a superseded attempt's end is not reported).
  virtual void OnAttemptFinished(RunState state) {}
};

}  // namespace gwo::server

#endif  // GWO_SERVER_COORDINATOR_OBSERVER_H_
