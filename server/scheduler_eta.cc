// EstimateStarts: start-time estimates for waiting runs (see scheduler.h).
#include <algorithm>
#include <limits>

#include "server/scheduler.h"

namespace gwo::server {

void EstimateStarts(const ClusterState& state, Decisions* decisions) {
  double rate_sum = 0;
  int rates = 0;
  for (const RunningAttempt& a : state.running) {
    if (a.steps_per_s > 0) {
      rate_sum += a.steps_per_s;
      ++rates;
    }
  }
  if (rates == 0) return;  // nothing to estimate from yet
  const double mean_rate = rate_sum / rates;

  std::map<int64_t, const QueuedRun*> queued;
  for (const QueuedRun& q : state.queued) queued[q.run_id] = &q;
  // Estimated end (seconds from now) of every run with one.
  std::map<int64_t, double> ends;
  // Per worker, when each of its slots comes free.
  std::map<int64_t, std::vector<double>> slot_free;
  for (const WorkerState& w : state.workers) slot_free[w.id].assign(std::max(w.slots, 0), 0.0);
  auto occupy = [&](int64_t worker, double until) {
    auto it = slot_free.find(worker);
    if (it == slot_free.end() || it->second.empty()) return;
    // The slot that frees first is the one this attempt holds.
    auto slot = std::min_element(it->second.begin(), it->second.end());
    *slot = std::max(*slot, until);
  };
  for (const RunningAttempt& a : state.running) {
    const double rate = a.steps_per_s > 0 ? a.steps_per_s : mean_rate;
    const double end = a.stopping ? 0.0 : std::max<int64_t>(a.total_steps - a.step, 0) / rate;
    ends[a.run_id] = end;
    occupy(a.worker_id, end);
  }
  for (const Placement& p : decisions->placements) {
    auto it = queued.find(p.run_id);
    const double end = it == queued.end() ? 0.0 : it->second->total_steps / mean_rate;
    ends[p.run_id] = end;
    occupy(p.worker_id, end);
  }
  for (WaitingRun& w : decisions->waiting) {
    auto it = queued.find(w.run_id);
    if (it == queued.end()) continue;
    const QueuedRun& q = *it->second;
    double ready = q.backoff_s;
    bool known = true;
    for (const Dependency& d : q.depends_on) {
      if (d.state == "succeeded") continue;
      auto e = ends.find(d.run_id);
      if (e == ends.end()) {
        known = false;
        break;
      }
      ready = std::max(ready, e->second);
    }
    if (!known) continue;
    double best = std::numeric_limits<double>::infinity();
    int64_t best_worker = 0;
    for (const WorkerState& wk : state.workers) {
      int holds = 0;
      for (const GpuInfo& g : wk.gpus) {
        holds += q.gpu_memory_bytes <= 0 || g.memory_bytes <= 0 || g.memory_bytes >= q.gpu_memory_bytes;
      }
      if (holds < q.gpus || slot_free[wk.id].empty()) continue;
      const double start = std::max(ready, *std::min_element(slot_free[wk.id].begin(), slot_free[wk.id].end()));
      if (start < best) {
        best = start;
        best_worker = wk.id;
      }
    }
    if (best_worker == 0 && best == std::numeric_limits<double>::infinity()) continue;
    w.eta_s = best;
    ends[q.run_id] = best + q.total_steps / mean_rate;
    occupy(best_worker, ends[q.run_id]);
  }
}

}  // namespace gwo::server
