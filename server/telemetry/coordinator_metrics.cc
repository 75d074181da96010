#include "server/telemetry/coordinator_metrics.h"

#include <algorithm>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace gwo::server {
namespace {

constexpr RunState kRunStates[] = {RunState::kQueued, RunState::kRunning, RunState::kSucceeded,
                                   RunState::kFailed, RunState::kCancelled};

// "unavailable", "internal", ... (bounded: the canonical codes).
std::string CodeLabel(absl::StatusCode code) {
  return absl::AsciiStrToLower(absl::StatusCodeToString(code));
}

}  // namespace

bool IsDatabaseError(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kOutOfRange:
      return false;
    default:
      return true;
  }
}

CoordinatorMetrics::CoordinatorMetrics(metrics::Registry* registry, Store* store)
    : registry_(registry), store_(store) {
  using metrics::LatencyBuckets;
  runs_ = registry->AddGauge("gwo_runs", "Runs in each state (from the database, read at scrape time).",
                             {"state"});
  queue_depth_ = registry->AddGauge("gwo_queue_depth_runs", "Runs waiting in the queue for a worker slot.");
  queue_wait_ = registry->AddHistogram(
      "gwo_queue_wait_seconds",
      "Time an attempt waited in the queue: from the run's submission, or its previous attempt's end, to its claim.",
      {}, {0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600});
  attempts_dispatched_ =
      registry->AddCounter("gwo_attempts_dispatched_total", "Attempts claimed from the queue and sent to a worker.");
  attempts_finished_ =
      registry->AddCounter("gwo_attempts_finished_total", "Attempts that ended, by final state.", {"state"});
  points_ingested_ = registry->AddCounter("gwo_metric_points_ingested_total",
                                          "Metric points accepted from workers (replays of stored points included).");
  workers_ = registry->AddGauge("gwo_workers", "Connected workers: busy (running an attempt) or idle.", {"state"});
  slots_ = registry->AddGauge("gwo_slots", "Attempt slots of connected workers: busy or free.", {"state"});
  gpus_ = registry->AddGauge("gwo_gpus",
                             "GPUs of connected workers: busy (an attempt per GPU, up to the worker's GPUs) or idle.",
                             {"state"});
  rpc_duration_ = registry->AddHistogram(
      "gwo_rpc_duration_seconds",
      "Duration of gRPC calls served, by method and status code (worker streams: the stream's lifetime).",
      {"method", "code"}, LatencyBuckets());
  database_errors_ = registry->AddCounter(
      "gwo_database_errors_total", "Database transactions that failed (after retries), by status code.", {"code"});

  for (RunState s : kRunStates) {
    runs_->With({RunStateName(s)});
    if (IsTerminal(s)) attempts_finished_->With({RunStateName(s)});
  }
  for (const char* s : {"busy", "idle"}) {
    workers_->With({s});
    gpus_->With({s});
  }
  for (const char* s : {"busy", "free"}) slots_->With({s});
  queue_wait_->With({});
  database_errors_->With({"unavailable"});

  store_->set_error_hook([this](const absl::Status& s) {
    if (IsDatabaseError(s)) database_errors_->With({CodeLabel(s.code())}).Inc();
  });
  registry_->AddCollector([this] { CollectRuns(); });
}

void CoordinatorMetrics::Watch(Coordinator* core) {
  registry_->AddCollector([this, core] { CollectWorkers(core); });
}

void CoordinatorMetrics::CollectRuns() {
  absl::StatusOr<std::map<RunState, int64_t>> counts = store_->CountRunsByState();
  if (!counts.ok()) return;
  for (const auto& [state, n] : *counts) runs_->With({RunStateName(state)}).Set(static_cast<double>(n));
  queue_depth_->With({}).Set(static_cast<double>((*counts)[RunState::kQueued]));
}

void CoordinatorMetrics::CollectWorkers(Coordinator* core) {
  int busy = 0, idle = 0, busy_slots = 0, free_slots = 0, busy_gpus = 0, idle_gpus = 0;
  for (const WorkerLoad& w : core->WorkerLoads()) {
    (w.running > 0 ? busy : idle) += 1;
    busy_slots += std::min(w.running, w.slots);
    free_slots += std::max(w.slots - w.running, 0);
    int used = std::min(w.running, w.gpus);
    busy_gpus += used;
    idle_gpus += w.gpus - used;
  }
  workers_->With({"busy"}).Set(busy);
  workers_->With({"idle"}).Set(idle);
  slots_->With({"busy"}).Set(busy_slots);
  slots_->With({"free"}).Set(free_slots);
  gpus_->With({"busy"}).Set(busy_gpus);
  gpus_->With({"idle"}).Set(idle_gpus);
}

void CoordinatorMetrics::OnAttemptDispatched(const Assignment& a) {
  attempts_dispatched_->With({}).Inc();
  absl::StatusOr<absl::Duration> wait = store_->QueueWait(a.run_id, a.attempt);
  if (!wait.ok()) {
    LogWarning(absl::StrCat("queue wait of run ", a.run_id, " attempt ", a.attempt, ": ", wait.status().ToString()));
    return;
  }
  queue_wait_->With({}).Observe(absl::ToDoubleSeconds(*wait));
}

void CoordinatorMetrics::OnMetricsIngested(int64_t points) {
  points_ingested_->With({}).Inc(static_cast<double>(points));
}

void CoordinatorMetrics::OnAttemptFinished(RunState state) { attempts_finished_->With({RunStateName(state)}).Inc(); }

}  // namespace gwo::server
