#include "server/coordinator.h"

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "server/path_roots.h"
#include "server/scheduler.h"
#include "server/stages.h"
#include "server/submit_check.h"
#include "spec/parse.h"

namespace gwo::server {

Coordinator::Coordinator(Store* store, CoordinatorOptions options) : store_(store), options_(options) {
  store_->SetRequeueBackoff(options_.requeue_backoff, options_.max_requeue_backoff);
}

absl::StatusOr<SubmitResult> Coordinator::Submit(const std::string& yaml, const std::string& file_name,
                                                 const std::string& idempotency_key,
                                                 const std::string& scale, const Submitter& by) {
  const std::string name = file_name.empty() ? "<submitted>" : file_name;
  GWO_ASSIGN_OR_RETURN(spec::ExperimentSpec spec, spec::ParseExperimentSpec(yaml, name, scale));
  if (by.may_submit_to) GWO_RETURN_IF_ERROR(by.may_submit_to(spec.resources.project));
  GWO_RETURN_IF_ERROR(CheckSpecPaths(spec, options_.path_roots, name));
  GWO_RETURN_IF_ERROR(CheckCorpora(spec, name));
  GWO_RETURN_IF_ERROR(ResolveInitFromRun(*store_, name, &spec.model, by.may_read_run));
  for (spec::Variant& variant : spec.variants) {
    GWO_RETURN_IF_ERROR(ResolveTeacherFromRun(*store_, name, &variant.training.distill, by.may_read_run));
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
    r.project = spec.resources.project;
    r.gpus = spec.resources.gpus;
    if (r.gpus > 0) {
      r.gpu_memory_bytes = spec.resources.gpu_memory_gb > 0
                               ? static_cast<int64_t>(spec.resources.gpu_memory_gb * (int64_t{1} << 30))
                               : EstimateGpuMemoryBytes(run);
    }
    r.depends_on = StageDependencies(run);
    runs.push_back(std::move(r));
  }
  bool created = false;
  GWO_ASSIGN_OR_RETURN(ExperimentRecord experiment,
                       store_->CreateExperiment(spec.name, yaml, idempotency_key, runs, &created, by.user));
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

absl::Status Coordinator::Recover() {
  GWO_ASSIGN_OR_RETURN(auto workers, store_->WorkersWithRunningAttempts());
  const absl::Time now = absl::Now();
  absl::MutexLock lock(&mu_);
  for (const auto& [id, name] : workers) {
    Session& s = workers_[id];
    if (s.channel != nullptr) continue;  // already back
    s.name = name;
    s.last_seen = now;  // a full lease to reconnect in
  }
  if (!workers.empty()) {
    LogInfo(absl::StrCat(workers.size(), " worker(s) had running attempts; waiting up to ",
                         absl::FormatDuration(options_.worker_lease), " for them to reconnect"));
  }
  return absl::OkStatus();
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
  // The worker restarted and lost some of what the store believes it runs.
  if (reattached.size() < known.size()) {
    std::vector<int64_t> keep;
    for (const AttemptKey& a : reattached) keep.push_back(a.first);
    GWO_RETURN_IF_ERROR(
        store_->ReleaseWorkerAttempts(id, absl::StrCat("worker ", info.name, " restarted without it"), keep));
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
    s.gpus.clear();
    for (const DeviceRecord& d : info.devices) {
      if (d.kind == "cuda") s.gpus.push_back({d.index, d.memory_bytes});
    }
    s.running = reattached;
    s.last_seen = absl::Now();
    for (const AttemptKey& a : to_stop) channel->Stop(a.first, a.second, "attempt is no longer current");
  }
  LogInfo(absl::StrCat("worker ", info.name, " (id ", id, ") connected with ", info.slots, " slot(s), ",
                       reattached.size(), " attempt(s) reattached, ", to_stop.size(), " stopped"));
  Dispatch();
  return id;
}

void Coordinator::WorkerGone(int64_t worker_id, WorkerChannel* channel) {
  absl::MutexLock lock(&mu_);
  auto it = workers_.find(worker_id);
  // A newer connection of the same worker has taken over, or its lease already ended.
  if (it == workers_.end() || it->second.channel != channel) return;
  it->second.channel = nullptr;
  LogWarning(absl::StrCat("worker ", it->second.name, " (id ", worker_id, ") disconnected; its ",
                          it->second.running.size(), " attempt(s) wait for it until its lease ends"));
}

void Coordinator::Heartbeat(int64_t worker_id) {
  absl::MutexLock lock(&mu_);
  auto it = workers_.find(worker_id);
  if (it != workers_.end()) it->second.last_seen = absl::Now();
}

absl::Status Coordinator::Settle(int64_t worker_id, int64_t run_id, int attempt, const absl::Status& status) {
  if (status.ok()) return status;
  if (absl::IsUnavailable(status)) {
    LogWarning(absl::StrCat("report of run ", run_id, " attempt ", attempt, " not stored: ", status.ToString()));
    return status;
  }
  if (absl::IsFailedPrecondition(status)) {
    StopOnWorker({run_id, attempt, worker_id}, std::string(status.message()));
  } else {
    // Not retryable (an unknown run, a bug): logged and dropped, so that one bad
    // report does not hold up the worker's spool.
    LogError(absl::StrCat("report of run ", run_id, " attempt ", attempt, " dropped: ", status.ToString()));
  }
  return absl::OkStatus();
}

absl::Status Coordinator::OnAttemptStarted(int64_t worker_id, int64_t run_id, int attempt,
                                           const std::string& output_dir, int64_t resumed_from) {
  Heartbeat(worker_id);
  absl::Status s = store_->RecordAttemptOutput(run_id, attempt, output_dir);
  if (s.ok()) s = store_->ArchiveEarlierMetrics(run_id, attempt, resumed_from);
  if (s.ok() && attempt > 1) {
    LogInfo(absl::StrCat("run ", run_id, " attempt ", attempt,
                         resumed_from > 0 ? absl::StrCat(" resumed from step ", resumed_from)
                                          : std::string(" started from scratch")));
  }
  return Settle(worker_id, run_id, attempt, s);
}

absl::Status Coordinator::OnMetrics(int64_t worker_id, int64_t run_id, int attempt,
                                    const std::vector<MetricPointRecord>& points, bool backfill) {
  Heartbeat(worker_id);
  absl::Status s = backfill ? store_->BackfillMetrics(run_id, attempt, points)
                            : store_->RecordMetrics(run_id, attempt, points);
  if (s.ok()) {
    observer().OnMetricsIngested(static_cast<int64_t>(points.size()));
    live_feed_.Notify(run_id);
  }
  return Settle(worker_id, run_id, attempt, s);
}

absl::Status Coordinator::OnLogs(int64_t worker_id, int64_t run_id, int attempt,
                                 const std::vector<std::string>& lines, int64_t first_line) {
  Heartbeat(worker_id);
  absl::Status s = store_->AppendLogs(run_id, attempt, lines, first_line);
  if (s.ok()) live_feed_.Notify(run_id);
  return Settle(worker_id, run_id, attempt, s);
}

absl::Status Coordinator::OnAttemptFinished(int64_t worker_id, int64_t run_id, int attempt, RunState state,
                                            const std::string& error, bool retryable) {
  Heartbeat(worker_id);
  absl::Status s = store_->FinishAttempt(run_id, attempt, state, error, retryable);
  if (absl::IsUnavailable(s)) return Settle(worker_id, run_id, attempt, s);
  // A refused finish is a cancelled or superseded attempt ending (or a replay of
  // one already recorded): nothing to record.
  if (!s.ok() && !absl::IsFailedPrecondition(s)) {
    LogError(absl::StrCat("finishing run ", run_id, " attempt ", attempt, ": ", s.ToString()));
  }
  if (s.ok()) {
    LogInfo(absl::StrCat("run ", run_id, " attempt ", attempt, " ended ", RunStateName(state),
                         state == RunState::kFailed && retryable ? " (retryable)" : ""));
    observer().OnAttemptFinished(state);
    live_feed_.Notify(run_id);
  }
  {
    absl::MutexLock lock(&mu_);
    auto it = workers_.find(worker_id);
    if (it != workers_.end()) it->second.running.erase({run_id, attempt});
  }
  Dispatch();
  return absl::OkStatus();
}

void Coordinator::StopOnWorker(const AttemptOnWorker& a, const std::string& reason) {
  absl::MutexLock lock(&mu_);
  auto it = workers_.find(a.worker_id);
  if (it != workers_.end() && it->second.channel != nullptr) it->second.channel->Stop(a.run_id, a.attempt, reason);
}

void Coordinator::Dispatch() { DispatchPass(/*even_without_workers=*/false); }

void Coordinator::Sweep() {
  std::vector<std::pair<int64_t, std::string>> expired;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time cutoff = absl::Now() - options_.worker_lease;
    for (const auto& [id, s] : workers_) {
      if (s.last_seen >= cutoff) continue;
      LogWarning(absl::StrCat("worker ", s.name, " (id ", id, ") silent for longer than its lease (",
                              absl::FormatDuration(options_.worker_lease), "); releasing its attempts"));
      // A cut-off worker whose stream is still open: its end calls WorkerGone,
      // which finds the session gone.
      if (s.channel != nullptr) s.channel->Disconnect("heartbeat lease expired");
      expired.push_back({id, s.name});
    }
    for (const auto& [id, name] : expired) workers_.erase(id);
  }
  for (const auto& [id, name] : expired) {
    absl::Status s = store_->ReleaseWorkerAttempts(id, absl::StrCat("worker ", name, " was lost (lease expired)"));
    if (s.ok()) s = store_->MarkWorkerOffline(id);
    if (!s.ok()) {
      // Tried again at the next sweep.
      LogError(absl::StrCat("releasing attempts of worker ", id, ": ", s.ToString()));
      absl::MutexLock lock(&mu_);
      Session& again = workers_[id];
      if (again.channel == nullptr && again.name.empty()) again.name = name;
    }
  }
  // Also with no worker connected: stages whose dependency failed are failed here.
  DispatchPass(/*even_without_workers=*/true);
}

void Coordinator::DisconnectAll(const std::string& reason) {
  absl::MutexLock lock(&mu_);
  for (const auto& [id, s] : workers_) {
    if (s.channel != nullptr) s.channel->Disconnect(reason);
  }
}

int Coordinator::ConnectedWorkers() {
  absl::MutexLock lock(&mu_);
  int n = 0;
  for (const auto& [id, s] : workers_) n += s.channel != nullptr;
  return n;
}

std::vector<WorkerLoad> Coordinator::WorkerLoads() {
  absl::MutexLock lock(&mu_);
  std::vector<WorkerLoad> out;
  for (const auto& [id, s] : workers_) out.push_back({s.slots, static_cast<int>(s.running.size()), static_cast<int>(s.gpus.size())});
  return out;
}

}  // namespace gwo::server
