// Coordinator: scheduling passes (Dispatch) and the queue view (Queue). The
// decisions come from the pure scheduler (server/scheduler.h); this file builds
// its input from the worker sessions and the store and applies its output.
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "server/coordinator.h"
#include "server/stages.h"

namespace gwo::server {

absl::StatusOr<ClusterState> Coordinator::BuildClusterState(QueueSnapshot* snapshot) {
  ClusterState state;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, s] : workers_) {
      // A worker disconnected within its lease keeps its attempts but takes no new ones.
      if (s.channel != nullptr) state.workers.push_back({id, s.name, s.slots, s.gpus});
    }
  }
  GWO_ASSIGN_OR_RETURN(*snapshot, store_->ReadQueue());
  state.project_weights = options_.project_weights;
  const absl::Time now = absl::Now();
  // Attempts on workers of another coordinator count for fair share only.
  for (const QueueSnapshot::Running& r : snapshot->running) {
    RunningAttempt a;
    a.run_id = r.run_id;
    a.attempt = r.attempt;
    a.worker_id = r.worker_id;
    a.name = r.name;
    a.project = r.project;
    a.priority = r.priority;
    a.gpus = r.gpus;
    a.step = r.step;
    a.total_steps = r.total_steps;
    const double elapsed = absl::ToDoubleSeconds(now - r.attempt_started);
    a.steps_per_s = r.step > 0 && elapsed > 0.5 ? r.step / elapsed : 0;
    a.started_s = absl::ToDoubleSeconds(r.attempt_started - absl::UnixEpoch());
    a.stopping = r.preempt_requested;
    state.running.push_back(std::move(a));
  }
  for (const QueueSnapshot::Queued& q : snapshot->queued) {
    QueuedRun r;
    r.run_id = q.run_id;
    r.name = q.name;
    r.project = q.project;
    r.priority = q.priority;
    r.gpus = q.gpus;
    r.gpu_memory_bytes = q.gpu_memory_bytes;
    r.total_steps = q.total_steps;
    for (const DependencyRecord& d : q.depends_on) r.depends_on.push_back({d.run_id, d.name, RunStateName(d.state)});
    if (q.not_before.has_value() && *q.not_before > now) r.backoff_s = absl::ToDoubleSeconds(*q.not_before - now);
    state.queued.push_back(std::move(r));
  }
  return state;
}

void Coordinator::DispatchPass(bool even_without_workers) {
  absl::MutexLock dispatch_lock(&dispatch_mu_);
  if (!even_without_workers && ConnectedWorkers() == 0) return;  // nothing to place on
  QueueSnapshot snapshot;
  absl::StatusOr<ClusterState> state = BuildClusterState(&snapshot);
  if (!state.ok()) {
    LogError(absl::StrCat("reading the queue: ", state.status().ToString()));
    return;
  }
  const Decisions d = Schedule(*state);
  auto fail = [&](int64_t run_id, const std::string& reason) {
    absl::StatusOr<bool> failed = store_->FailQueuedRun(run_id, reason);
    if (!failed.ok()) LogError(absl::StrCat("failing run ", run_id, ": ", failed.status().ToString()));
    if (failed.ok() && *failed) LogWarning(absl::StrCat("run ", run_id, " failed: ", reason));
  };
  for (const RunToFail& f : d.to_fail) fail(f.run_id, f.reason);

  std::map<int64_t, const QueueSnapshot::Queued*> queued;
  for (const QueueSnapshot::Queued& q : snapshot.queued) queued[q.run_id] = &q;
  for (const Placement& p : d.placements) {
    const QueueSnapshot::Queued& q = *queued.at(p.run_id);
    std::string resolved;
    if (!q.depends_on.empty()) {
      absl::StatusOr<std::string> spec = ResolveStages(q.spec_yaml, q.depends_on);
      if (!spec.ok()) {
        fail(q.run_id, std::string(spec.status().message()));
        continue;
      }
      resolved = *spec;
    }
    absl::StatusOr<std::optional<Assignment>> claim = store_->ClaimRun(p.run_id, p.worker_id, p.gpus, resolved);
    if (!claim.ok()) {
      LogError(absl::StrCat("claiming run ", p.run_id, ": ", claim.status().ToString()));
      return;
    }
    if (!claim->has_value()) continue;  // claimed meanwhile (another coordinator) or cancelled
    const Assignment& a = **claim;
    bool sent = false;
    {
      absl::MutexLock lock(&mu_);
      auto it = workers_.find(p.worker_id);
      if (it != workers_.end()) {
        it->second.running.insert({a.run_id, a.attempt});
        // Disconnected meanwhile: its reconnect (without the attempt) or its
        // lease's end releases the attempt.
        if (it->second.channel != nullptr) it->second.channel->Assign(a);
        sent = true;
      }
    }
    if (sent) {
      observer().OnAttemptDispatched(a);
      LogInfo(absl::StrCat("run ", a.run_id, " (", a.run_name, ") attempt ", a.attempt, " -> worker ", p.worker_id,
                           a.gpus.empty() ? "" : absl::StrCat(" with ", a.gpus.size(), " GPU(s)")));
    } else {
      // The worker left between planning and claiming: give the run back.
      absl::Status s = store_->ReleaseWorkerAttempts(p.worker_id, "worker left before the attempt started");
      if (!s.ok()) LogError(s.ToString());
    }
  }
  for (const Preemption& p : d.preemptions) {
    absl::Status s = store_->RequestPreemption(p.run_id, p.attempt);
    if (absl::IsFailedPrecondition(s)) continue;  // it ended meanwhile
    if (!s.ok()) {
      LogError(absl::StrCat("preempting run ", p.run_id, ": ", s.ToString()));
      continue;
    }
    LogInfo(absl::StrCat("preempting run ", p.run_id, " attempt ", p.attempt, " for run ", p.for_run_id));
    StopOnWorker({p.run_id, p.attempt, p.worker_id},
                 absl::StrCat("preempted for run ", p.for_run_id, " of higher priority"));
  }
}

absl::StatusOr<std::vector<QueueEntry>> Coordinator::Queue() {
  QueueSnapshot snapshot;
  GWO_ASSIGN_OR_RETURN(ClusterState state, BuildClusterState(&snapshot));
  Decisions d = Schedule(state);
  EstimateStarts(state, &d);
  std::map<int64_t, const QueueSnapshot::Queued*> queued;
  for (const QueueSnapshot::Queued& q : snapshot.queued) queued[q.run_id] = &q;
  std::map<int64_t, std::string> worker_names;
  for (const WorkerState& w : state.workers) worker_names[w.id] = w.name;
  std::vector<QueueEntry> out;
  auto entry = [&](int64_t run_id) -> QueueEntry& {
    const QueueSnapshot::Queued& q = *queued.at(run_id);
    out.push_back({q.run_id, q.experiment_id, q.name, q.project, q.priority, q.gpus, 0, "", std::nullopt});
    return out.back();
  };
  for (const Placement& p : d.placements) {
    QueueEntry& e = entry(p.run_id);
    e.reason = absl::StrCat("starting on worker ", worker_names[p.worker_id]);
    e.eta_s = 0;
  }
  for (const WaitingRun& w : d.waiting) {
    QueueEntry& e = entry(w.run_id);
    e.position = w.position;
    e.reason = w.reason;
    e.eta_s = w.eta_s;
  }
  for (const RunToFail& f : d.to_fail) {
    QueueEntry& e = entry(f.run_id);
    e.reason = absl::StrCat("failing: ", f.reason);
  }
  return out;
}

}  // namespace gwo::server
