// What the agent tells telemetry (worker/agent/worker_metrics.*): its connection
// to the coordinator and every report it queues. Calls come from the agent's
// threads, sometimes with its lock held: return quickly, never call the Agent.
#ifndef GWO_WORKER_AGENT_AGENT_OBSERVER_H_
#define GWO_WORKER_AGENT_AGENT_OBSERVER_H_

#include "gwo/v1/workers.pb.h"

namespace gwo::worker {

class AgentObserver {
 public:
  virtual ~AgentObserver() = default;
  // The stream to the coordinator was registered (true) or ended (false).
  virtual void OnConnectionChanged(bool connected) {}
  // A report (attempt started, metrics, logs, finished) was queued for the coordinator.
  virtual void OnReport(const gwo::v1::WorkerMessage& report) {}
};

}  // namespace gwo::worker

#endif  // GWO_WORKER_AGENT_AGENT_OBSERVER_H_
