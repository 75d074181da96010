#include "server/scheduler.h"

#include <algorithm>

namespace gwo::server {

std::vector<int64_t> PlanSlotOrder(const std::vector<WorkerCapacity>& workers) {
  struct Free {
    int64_t id;
    int free;
  };
  std::vector<Free> free;
  for (const WorkerCapacity& w : workers) {
    if (w.slots > w.running) free.push_back({w.worker_id, w.slots - w.running});
  }
  std::sort(free.begin(), free.end(), [](const Free& a, const Free& b) {
    return a.free != b.free ? a.free > b.free : a.id < b.id;
  });
  std::vector<int64_t> order;
  for (bool any = true; any;) {
    any = false;
    for (Free& f : free) {
      if (f.free == 0) continue;
      order.push_back(f.id);
      --f.free;
      any = true;
    }
  }
  return order;
}

}  // namespace gwo::server
