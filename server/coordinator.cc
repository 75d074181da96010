#include "server/coordinator.h"

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "server/scheduler.h"
#include "server/submit_check.h"
#include "spec/parse.h"

namespace gwo::server {

Coordinator::Coordinator(Store* store, CoordinatorOptions options)
    : store_(store), options_(options) {}

absl::StatusOr<SubmitResult> Coordinator::Submit(const std::string& yaml, const std::string& file_name,
                                                 const std::string& idempotency_key) {
  const std::string name = file_name.empty() ? "<submitted>" : file_name;
  GWO_ASSIGN_OR_RETURN(spec::ExperimentSpec spec, spec::ParseExperimentSpec(yaml, name));
  GWO_RETURN_IF_ERROR(CheckCorpora(spec, name));
  GWO_RETURN_IF_ERROR(ResolveInitFromRun(*store_, name, &spec.model));
  for (spec::Variant& variant : spec.variants) {
    GWO_RETURN_IF_ERROR(ResolveTeacherFromRun(*store_, name, &variant.training.distill));
  }

  std::vector<NewRun> runs;
  for (const spec::RunSpec& run : spec::ExpandRuns(spec)) {
    NewRun r;
    r.name = spec::RunName(run);
    r.variant = run.variant;
    r.dataset = run.data.name;
    r.seed = run.seed;
    r.spec_yaml = spec::RunSpecToYaml(run);
    r.total_steps = run.training.steps;
    r.max_restarts = run.max_restarts;
    r.priority = spec.resources.priority;
    runs.push_back(std::move(r));
  }
  bool created = false;
  GWO_ASSIGN_OR_RETURN(ExperimentRecord experiment,
                       store_->CreateExperiment(spec.name, yaml, idempotency_key, runs, &created));
  GWO_ASSIGN_OR_RETURN(std::vector<RunRecord> stored_runs, store_->ListRuns(experiment.id));
  if (created) {
    LogInfo(absl::StrCat("experiment ", experiment.id, " (", experiment.name, ") accepted with ",
                         stored_runs.size(), " runs"));
    Dispatch();
  }
  return SubmitResult{std::move(experiment), std::move(stored_runs), !created};
}

absl::StatusOr<int> Coordinator::CancelExperiment(int64_t experiment_id) {
  GWO_ASSIGN_OR_RETURN(ExperimentRecord before, store_->GetExperiment(experiment_id));
  int unfinished = before.runs_by_state[RunState::kQueued] + before.runs_by_state[RunState::kRunning];
  GWO_ASSIGN_OR_RETURN(std::vector<AttemptOnWorker> running, store_->CancelExperiment(experiment_id));
  for (const AttemptOnWorker& a : running) StopOnWorker(a, "experiment cancelled");
  return unfinished;
}

absl::StatusOr<bool> Coordinator::CancelRun(int64_t run_id) {
  bool cancelled = false;
  GWO_ASSIGN_OR_RETURN(std::optional<AttemptOnWorker> running, store_->CancelRun(run_id, &cancelled));
  if (running.has_value()) StopOnWorker(*running, "run cancelled");
  return cancelled;
}

absl::StatusOr<int64_t> Coordinator::RegisterWorker(const WorkerInfo& info,
                                                    const std::vector<AttemptKey>& running,
                                                    WorkerChannel* channel) {
  GWO_ASSIGN_OR_RETURN(int64_t id, store_->UpsertWorker(info));
  GWO_ASSIGN_OR_RETURN(std::vector<AttemptOnWorker> in_store, store_->RunningAttempts(id));
  std::set<AttemptKey> known;
  for (const AttemptOnWorker& a : in_store) known.insert({a.run_id, a.attempt});

  std::set<AttemptKey> reattached;
  std::vector<AttemptKey> to_stop;
  for (const AttemptKey& a : running) {
    if (known.count(a)) {
      reattached.insert(a);
    } else {
      to_stop.push_back(a);
    }
  }
  // The worker restarted and lost what the store believes it was running.
  if (reattached.size() < known.size()) {
    GWO_RETURN_IF_ERROR(store_->ReleaseWorkerAttempts(id, absl::StrCat("worker ", info.name, " restarted")));
    reattached.clear();
  }
  {
    absl::MutexLock lock(&mu_);
    Session& s = workers_[id];
    if (s.channel != nullptr && s.channel != channel) {
      s.channel->Disconnect("replaced by a new connection of the same worker");
    }
    s.channel = channel;
    s.name = info.name;
    s.slots = info.slots;
    s.running = reattached;
    s.last_seen = absl::Now();
    for (const AttemptKey& a : to_stop) channel->Stop(a.first, a.second, "attempt is no longer current");
  }
  LogInfo(absl::StrCat("worker ", info.name, " (id ", id, ") connected with ", info.slots, " slot(s), ",
                       reattached.size(), " attempt(s) reattached"));
  Dispatch();
  return id;
}

void Coordinator::WorkerGone(int64_t worker_id, WorkerChannel* channel) {
  std::string name;
  {
    absl::MutexLock lock(&mu_);
    auto it = workers_.find(worker_id);
    // A newer connection of the same worker has taken over: nothing to release.
    if (it == workers_.end() || it->second.channel != channel) return;
    name = it->second.name;
    workers_.erase(it);
  }
  LogWarning(absl::StrCat("worker ", name, " (id ", worker_id, ") disconnected"));
  absl::Status s = store_->ReleaseWorkerAttempts(worker_id, absl::StrCat("worker ", name, " was lost"));
  if (!s.ok()) LogError(absl::StrCat("releasing attempts of worker ", worker_id, ": ", s.ToString()));
  s = store_->MarkWorkerOffline(worker_id);
  if (!s.ok()) LogError(absl::StrCat("marking worker ", worker_id, " offline: ", s.ToString()));
  Dispatch();
}

void Coordinator::Heartbeat(int64_t worker_id) {
  absl::MutexLock lock(&mu_);
  auto it = workers_.find(worker_id);
  if (it != workers_.end()) it->second.last_seen = absl::Now();
}

void Coordinator::HandleReportStatus(int64_t worker_id, int64_t run_id, int attempt, const absl::Status& status) {
  if (status.ok()) return;
  if (absl::IsFailedPrecondition(status)) {
    StopOnWorker({run_id, attempt, worker_id}, std::string(status.message()));
    return;
  }
  LogError(absl::StrCat("report of run ", run_id, " attempt ", attempt, ": ", status.ToString()));
}

void Coordinator::OnAttemptStarted(int64_t worker_id, int64_t run_id, int attempt, const std::string& output_dir) {
  Heartbeat(worker_id);
  HandleReportStatus(worker_id, run_id, attempt, store_->RecordAttemptOutput(run_id, attempt, output_dir));
}

void Coordinator::OnMetrics(int64_t worker_id, int64_t run_id, int attempt,
                            const std::vector<MetricPointRecord>& points) {
  Heartbeat(worker_id);
  HandleReportStatus(worker_id, run_id, attempt, store_->RecordMetrics(run_id, attempt, points));
}

void Coordinator::OnLogs(int64_t worker_id, int64_t run_id, int attempt, const std::vector<std::string>& lines) {
  Heartbeat(worker_id);
  HandleReportStatus(worker_id, run_id, attempt, store_->AppendLogs(run_id, attempt, lines));
}

void Coordinator::OnAttemptFinished(int64_t worker_id, int64_t run_id, int attempt, RunState state,
                                    const std::string& error) {
  absl::Status s = store_->FinishAttempt(run_id, attempt, state, error);
  // A refused finish is a cancelled or superseded attempt ending: nothing to record.
  if (!s.ok() && !absl::IsFailedPrecondition(s)) {
    LogError(absl::StrCat("finishing run ", run_id, " attempt ", attempt, ": ", s.ToString()));
  }
  if (s.ok()) {
    LogInfo(absl::StrCat("run ", run_id, " attempt ", attempt, " ended ", RunStateName(state)));
  }
  {
    absl::MutexLock lock(&mu_);
    auto it = workers_.find(worker_id);
    if (it != workers_.end()) {
      it->second.running.erase({run_id, attempt});
      it->second.last_seen = absl::Now();
    }
  }
  Dispatch();
}

void Coordinator::StopOnWorker(const AttemptOnWorker& a, const std::string& reason) {
  absl::MutexLock lock(&mu_);
  auto it = workers_.find(a.worker_id);
  if (it != workers_.end()) it->second.channel->Stop(a.run_id, a.attempt, reason);
}

void Coordinator::Dispatch() {
  absl::MutexLock dispatch_lock(&dispatch_mu_);
  std::vector<WorkerCapacity> capacity;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, s] : workers_) {
      capacity.push_back({id, s.slots, static_cast<int>(s.running.size())});
    }
  }
  for (int64_t worker_id : PlanSlotOrder(capacity)) {
    absl::StatusOr<std::optional<Assignment>> claim = store_->ClaimNextRun(worker_id);
    if (!claim.ok()) {
      LogError(absl::StrCat("claiming a run: ", claim.status().ToString()));
      return;
    }
    if (!claim->has_value()) return;  // nothing queued
    const Assignment& a = **claim;
    bool sent = false;
    {
      absl::MutexLock lock(&mu_);
      auto it = workers_.find(worker_id);
      if (it != workers_.end()) {
        it->second.running.insert({a.run_id, a.attempt});
        it->second.channel->Assign(a);
        sent = true;
      }
    }
    if (sent) {
      LogInfo(absl::StrCat("run ", a.run_id, " (", a.run_name, ") attempt ", a.attempt, " -> worker ", worker_id));
    } else {
      // The worker left between planning and claiming: give the run back.
      absl::Status s = store_->ReleaseWorkerAttempts(worker_id, "worker left before the attempt started");
      if (!s.ok()) LogError(s.ToString());
    }
  }
}

void Coordinator::Sweep() {
  {
    absl::MutexLock lock(&mu_);
    const absl::Time cutoff = absl::Now() - options_.worker_lease;
    for (const auto& [id, s] : workers_) {
      if (s.last_seen < cutoff) {
        LogWarning(absl::StrCat("worker ", s.name, " silent for longer than its lease"));
        // Ends the stream; its end calls WorkerGone.
        s.channel->Disconnect("heartbeat lease expired");
      }
    }
  }
  Dispatch();
}

void Coordinator::DisconnectAll(const std::string& reason) {
  absl::MutexLock lock(&mu_);
  for (const auto& [id, s] : workers_) s.channel->Disconnect(reason);
}

int Coordinator::ConnectedWorkers() {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(workers_.size());
}

}  // namespace gwo::server
