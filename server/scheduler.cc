#include "server/scheduler.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

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

namespace {

// What a worker has left: slots and GPUs not held by an attempt.
struct Pool {
  int64_t worker_id = 0;
  int slots = 0;
  std::vector<GpuInfo> gpus;
};

bool GpuHolds(const GpuInfo& g, int64_t need_bytes) {
  return need_bytes <= 0 || g.memory_bytes <= 0 || g.memory_bytes >= need_bytes;
}

// The GPUs the run would take from `pool` (the smallest that hold it), or nullopt
// when the pool has no slot or too few GPUs that hold it.
std::optional<std::vector<int>> Fit(const Pool& pool, const QueuedRun& run) {
  if (pool.slots < 1) return std::nullopt;
  std::vector<GpuInfo> ok;
  for (const GpuInfo& g : pool.gpus) {
    if (GpuHolds(g, run.gpu_memory_bytes)) ok.push_back(g);
  }
  if (static_cast<int>(ok.size()) < run.gpus) return std::nullopt;
  std::sort(ok.begin(), ok.end(), [](const GpuInfo& a, const GpuInfo& b) {
    return a.memory_bytes != b.memory_bytes ? a.memory_bytes < b.memory_bytes : a.index < b.index;
  });
  std::vector<int> take;
  for (int i = 0; i < run.gpus; ++i) take.push_back(ok[i].index);
  std::sort(take.begin(), take.end());
  return take;
}

void Take(Pool* pool, const std::vector<int>& gpus) {
  --pool->slots;
  pool->gpus.erase(std::remove_if(pool->gpus.begin(), pool->gpus.end(),
                                  [&](const GpuInfo& g) {
                                    return std::find(gpus.begin(), gpus.end(), g.index) != gpus.end();
                                  }),
                   pool->gpus.end());
}

void Give(Pool* pool, const WorkerState& w, const std::vector<int>& gpus) {
  ++pool->slots;
  for (const GpuInfo& g : w.gpus) {
    if (std::find(gpus.begin(), gpus.end(), g.index) != gpus.end()) pool->gpus.push_back(g);
  }
}

int Units(int gpus) { return std::max(gpus, 1); }

std::string GiB(int64_t bytes) { return absl::StrFormat("%.3g GiB", static_cast<double>(bytes) / (1 << 30)); }

std::string NeedText(const QueuedRun& r) {
  if (r.gpus == 0) return "a free slot";
  std::string s = absl::StrCat(r.gpus, " GPU", r.gpus > 1 ? "s" : "");
  if (r.gpu_memory_bytes > 0) absl::StrAppend(&s, " of >= ", GiB(r.gpu_memory_bytes));
  return s;
}

// The scheduling pass, with the state it shares between its steps.
class Pass {
 public:
  explicit Pass(const ClusterState& s) : s_(s) {
    for (const WorkerState& w : s.workers) {
      workers_[w.id] = &w;
      pools_[w.id] = Pool{w.id, w.slots, w.gpus};
    }
    for (const RunningAttempt& a : s.running) {
      usage_[a.project] += Units(static_cast<int>(a.gpus.size()));
      auto it = pools_.find(a.worker_id);
      if (it != pools_.end()) Take(&it->second, a.gpus);
    }
    for (const QueuedRun& q : s.queued) demand_.insert(q.project);
    for (const RunningAttempt& a : s.running) demand_.insert(a.project);
    for (const WorkerState& w : s.workers) {
      capacity_units_ += w.gpus.empty() ? w.slots : static_cast<double>(w.gpus.size());
    }
  }

  Decisions Run() {
    std::vector<const QueuedRun*> blocked;  // on a dependency
    std::map<std::string, std::vector<const QueuedRun*>> by_project;
    for (const QueuedRun& q : s_.queued) {
      if (CheckDependencies(q)) by_project[q.project].push_back(&q);
      else if (!failed_) blocked.push_back(&q);
    }
    for (auto& [project, runs] : by_project) {
      std::sort(runs.begin(), runs.end(), [](const QueuedRun* a, const QueuedRun* b) {
        return a->priority != b->priority ? a->priority > b->priority : a->run_id < b->run_id;
      });
    }
    std::map<std::string, size_t> next;
    for (;;) {
      const QueuedRun* pick = nullptr;
      for (const auto& [project, runs] : by_project) {
        if (next[project] >= runs.size()) continue;
        const QueuedRun* head = runs[next[project]];
        if (pick == nullptr || Before(*head, *pick)) pick = head;
      }
      if (pick == nullptr) break;
      ++next[pick->project];
      PlaceOrExplain(*pick);
    }
    Preempt();
    std::sort(blocked.begin(), blocked.end(), [](const QueuedRun* a, const QueuedRun* b) {
      return a->priority != b->priority ? a->priority > b->priority : a->run_id < b->run_id;
    });
    for (const QueuedRun* q : blocked) out_.waiting.push_back({q->run_id, 0, dependency_reason_[q->run_id], {}});
    for (size_t i = 0; i < out_.waiting.size(); ++i) out_.waiting[i].position = static_cast<int>(i) + 1;
    return std::move(out_);
  }

 private:
  double Weight(const std::string& project) const {
    auto it = s_.project_weights.find(project);
    return it != s_.project_weights.end() && it->second > 0 ? it->second : 1.0;
  }
  double Load(const std::string& project) const {
    auto it = usage_.find(project);
    return (it == usage_.end() ? 0.0 : it->second) / Weight(project);
  }
  // Priority, then fair share between projects, then age.
  bool Before(const QueuedRun& a, const QueuedRun& b) const {
    if (a.priority != b.priority) return a.priority > b.priority;
    if (a.project != b.project && Load(a.project) != Load(b.project)) return Load(a.project) < Load(b.project);
    return a.run_id < b.run_id;
  }

  // True when every dependency succeeded. Otherwise records why the run waits, or
  // (failed_) that it must fail.
  bool CheckDependencies(const QueuedRun& q) {
    failed_ = false;
    std::vector<std::string> waiting;
    for (const Dependency& d : q.depends_on) {
      if (d.state == "succeeded") continue;
      if (d.state == "failed" || d.state == "cancelled") {
        out_.to_fail.push_back({q.run_id, absl::StrCat("dependency run ", d.run_id, " (", d.name, ") ", d.state,
                                                       "; this stage cannot start")});
        failed_ = true;
        return false;
      }
      waiting.push_back(absl::StrCat("run ", d.run_id, " (", d.name, ")"));
    }
    if (waiting.empty() && q.backoff_s > 0) {
      dependency_reason_[q.run_id] =
          absl::StrFormat("retrying after a lost or failed attempt in %.0f s (requeue backoff)", std::ceil(q.backoff_s));
      return false;
    }
    if (waiting.empty()) return true;
    dependency_reason_[q.run_id] = absl::StrCat("waiting for ", absl::StrJoin(waiting, ", "));
    return false;
  }

  // Best fit: the worker with the fewest free GPUs that holds the run, then the
  // most free slots (spreading CPU runs), then the lowest id.
  std::optional<Placement> BestFit(const QueuedRun& q, const std::map<int64_t, Pool>& pools) const {
    std::optional<Placement> best;
    const Pool* best_pool = nullptr;
    for (const auto& [id, pool] : pools) {
      std::optional<std::vector<int>> gpus = Fit(pool, q);
      if (!gpus.has_value()) continue;
      if (best_pool != nullptr) {
        if (pool.gpus.size() != best_pool->gpus.size()) {
          if (pool.gpus.size() > best_pool->gpus.size()) continue;
        } else if (pool.slots <= best_pool->slots) {
          continue;
        }
      }
      best = Placement{q.run_id, id, *gpus};
      best_pool = &pool;
    }
    return best;
  }

  bool EverFits(const QueuedRun& q) const {
    for (const WorkerState& w : s_.workers) {
      if (Fit(Pool{w.id, w.slots, w.gpus}, q).has_value()) return true;
    }
    return false;
  }

  void PlaceOrExplain(const QueuedRun& q) {
    if (std::optional<Placement> p = BestFit(q, pools_); p.has_value()) {
      Take(&pools_[p->worker_id], p->gpus);
      usage_[q.project] += Units(q.gpus);
      out_.placements.push_back(*p);
      picked_.push_back(&q);
      return;
    }
    std::string reason;
    if (s_.workers.empty()) {
      reason = "no worker connected";
    } else if (!EverFits(q)) {
      reason = absl::StrCat("no worker can hold it: needs ", NeedText(q), " on one worker");
    } else {
      const QueuedRun* higher = nullptr;
      bool other_project = false;
      for (const QueuedRun* p : picked_) {
        if (p->priority > q.priority && higher == nullptr) higher = p;
        if (p->priority == q.priority && p->project != q.project) other_project = true;
      }
      const double share = capacity_units_ * Weight(q.project) / DemandWeight();
      const double used = usage_.count(q.project) ? usage_.at(q.project) : 0.0;
      if (higher != nullptr) {
        reason = absl::StrCat("behind higher priority (run ", higher->run_id, ", priority ", higher->priority, ")");
      } else if (other_project && used > share) {
        reason = absl::StrFormat("fair share: project %s over its share (uses %g of %.3g)",
                                 q.project.empty() ? "default" : q.project, used, share);
      } else {
        reason = q.gpus == 0 ? "no free worker slot" : absl::StrCat("no worker with ", NeedText(q), " free");
      }
      preempt_candidates_.push_back(&q);
    }
    out_.waiting.push_back({q.run_id, 0, reason, {}});
    picked_.push_back(&q);
  }

  double DemandWeight() const {
    double sum = 0;
    for (const std::string& p : demand_) sum += Weight(p);
    return sum > 0 ? sum : 1;
  }

  void Preempt() {
    // Pending pools: free now, plus what stopping attempts will give back.
    std::map<int64_t, Pool> pending = pools_;
    for (const RunningAttempt& a : s_.running) {
      if (a.stopping && workers_.count(a.worker_id)) Give(&pending[a.worker_id], *workers_[a.worker_id], a.gpus);
    }
    std::set<int64_t> victims_taken;
    for (const QueuedRun* q : preempt_candidates_) {
      WaitingRun* w = FindWaiting(q->run_id);
      if (std::optional<Placement> p = BestFit(*q, pending); p.has_value()) {
        Take(&pending[p->worker_id], p->gpus);
        w->reason = absl::StrCat("waiting for a preempted run to stop on worker ", workers_[p->worker_id]->name);
        continue;
      }
      // Fewest victims wins, then the lowest worker id.
      std::vector<const RunningAttempt*> best;
      int64_t best_worker = 0;
      for (const auto& [id, base] : pending) {
        std::vector<const RunningAttempt*> cands;
        for (const RunningAttempt& a : s_.running) {
          if (a.worker_id == id && !a.stopping && a.priority < q->priority && !victims_taken.count(a.run_id)) {
            cands.push_back(&a);
          }
        }
        std::sort(cands.begin(), cands.end(), [](const RunningAttempt* a, const RunningAttempt* b) {
          if (a->priority != b->priority) return a->priority < b->priority;
          if (a->started_s != b->started_s) return a->started_s > b->started_s;
          return a->run_id > b->run_id;
        });
        Pool pool = base;
        std::vector<const RunningAttempt*> chosen;
        for (const RunningAttempt* a : cands) {
          if (Fit(pool, *q).has_value()) break;
          Give(&pool, *workers_[id], a->gpus);
          chosen.push_back(a);
        }
        if (chosen.empty() || !Fit(pool, *q).has_value()) continue;
        // Keep only the victims the run needs (an early one may free a slot only).
        for (size_t i = 0; i < chosen.size();) {
          Pool without = base;
          for (size_t j = 0; j < chosen.size(); ++j) {
            if (j != i) Give(&without, *workers_[id], chosen[j]->gpus);
          }
          if (Fit(without, *q).has_value()) {
            chosen.erase(chosen.begin() + i);
          } else {
            ++i;
          }
        }
        if (best.empty() || chosen.size() < best.size()) {
          best = chosen;
          best_worker = id;
        }
      }
      if (best.empty()) continue;
      std::vector<std::string> names;
      for (const RunningAttempt* a : best) {
        victims_taken.insert(a->run_id);
        Give(&pending[best_worker], *workers_[best_worker], a->gpus);
        out_.preemptions.push_back({a->run_id, a->attempt, a->worker_id, q->run_id});
        names.push_back(absl::StrCat("run ", a->run_id, " (", a->name, ", priority ", a->priority, ")"));
      }
      Take(&pending[best_worker], *Fit(pending[best_worker], *q));
      w->reason = absl::StrCat("preempting ", absl::StrJoin(names, ", "));
    }
  }

  WaitingRun* FindWaiting(int64_t run_id) {
    for (WaitingRun& w : out_.waiting) {
      if (w.run_id == run_id) return &w;
    }
    return nullptr;
  }

  const ClusterState& s_;
  std::map<int64_t, const WorkerState*> workers_;
  std::map<int64_t, Pool> pools_;          // free now, after this pass's placements
  std::map<std::string, double> usage_;    // units held per project
  std::set<std::string> demand_;           // projects with running or queued runs
  double capacity_units_ = 0;              // GPUs, or 1 for a CPU-only worker
  std::vector<const QueuedRun*> picked_;   // in pick order, placed or not
  std::vector<const QueuedRun*> preempt_candidates_;
  std::map<int64_t, std::string> dependency_reason_;
  bool failed_ = false;
  Decisions out_;
};

}  // namespace

Decisions Schedule(const ClusterState& state) { return Pass(state).Run(); }

}  // namespace gwo::server
