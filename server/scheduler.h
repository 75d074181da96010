// The scheduler: a pure function from cluster state to placement decisions, so it
// can be tested with tables of cases. The coordinator applies its decisions by
// claiming queued runs from the store in the order given.
#ifndef GWO_SERVER_SCHEDULER_H_
#define GWO_SERVER_SCHEDULER_H_

#include <cstdint>
#include <vector>

namespace gwo::server {

struct WorkerCapacity {
  int64_t worker_id = 0;
  int slots = 1;    // attempts it runs at once
  int running = 0;  // attempts it runs now
};

// The order in which free slots receive queued runs: one slot per entry. Workers
// take turns (the one with the most free slots first, ties by id), so a short queue
// spreads over workers instead of filling the first one.
std::vector<int64_t> PlanSlotOrder(const std::vector<WorkerCapacity>& workers);

}  // namespace gwo::server

#endif  // GWO_SERVER_SCHEDULER_H_
