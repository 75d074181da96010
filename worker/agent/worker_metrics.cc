#include "worker/agent/worker_metrics.h"

#include <string>

namespace gwo::worker {
namespace {

// The trainer's throughput metric (worker/trainer writes it every log_every steps).
constexpr char kTokensPerSecond[] = "tokens_per_s";

const char* FinishedLabel(gwo::v1::RunState s) {
  switch (s) {
    case gwo::v1::RUN_STATE_SUCCEEDED: return "succeeded";
    case gwo::v1::RUN_STATE_FAILED: return "failed";
    case gwo::v1::RUN_STATE_CANCELLED: return "cancelled";
    default: return "other";
  }
}

}  // namespace

WorkerMetrics::WorkerMetrics(metrics::Registry* registry, int slots, GpuQuery gpu_query)
    : gpu_query_(std::move(gpu_query)) {
  connected_gauge_ = registry->AddGauge("gwo_worker_connected", "1 while registered with the coordinator, else 0.");
  connects_ = registry->AddCounter("gwo_worker_connects_total",
                                   "Registrations with the coordinator (reconnects included).");
  slots_ = registry->AddGauge("gwo_worker_slots", "Attempts this worker runs at once.");
  running_ = registry->AddGauge("gwo_worker_attempts_running", "Attempts (gwo-train processes) running here.");
  finished_ = registry->AddCounter("gwo_worker_attempts_finished_total", "Attempts that ended here, by state.",
                                   {"state"});
  points_ = registry->AddCounter("gwo_worker_metric_points_total", "Metric points relayed from gwo-train.");
  tokens_per_second_ = registry->AddGauge(
      "gwo_worker_tokens_per_second",
      "Training throughput: the sum over running attempts of each one's latest tokens_per_s.");
  gpu_utilization_ = registry->AddGauge("gwo_gpu_utilization_ratio", "GPU busy fraction (nvidia-smi).", {"gpu"});
  gpu_memory_used_ = registry->AddGauge("gwo_gpu_memory_used_bytes", "GPU memory in use (nvidia-smi).", {"gpu"});
  gpu_memory_total_ = registry->AddGauge("gwo_gpu_memory_total_bytes", "GPU memory (nvidia-smi).", {"gpu"});
  slots_->With({}).Set(slots);
  for (const char* s : {"succeeded", "failed", "cancelled"}) finished_->With({s});
  if (gpu_query_) registry->AddCollector([this] { CollectGpus(); });
}

void WorkerMetrics::OnConnectionChanged(bool connected) {
  connected_ = connected;
  connected_gauge_->With({}).Set(connected ? 1 : 0);
  if (connected) connects_->With({}).Inc();
}

void WorkerMetrics::OnReport(const gwo::v1::WorkerMessage& m) {
  absl::MutexLock lock(&mu_);
  if (m.has_started()) {
    running_attempts_.insert({m.started().attempt().run_id(), m.started().attempt().attempt()});
  } else if (m.has_metrics()) {
    points_->With({}).Inc(m.metrics().points_size());
    std::pair<int64_t, int> key{m.metrics().attempt().run_id(), m.metrics().attempt().attempt()};
    int64_t latest_step = -1;
    for (const auto& p : m.metrics().points()) {
      if (p.name() == kTokensPerSecond && p.step() >= latest_step) {
        latest_step = p.step();
        tokens_per_s_[key] = p.value();
      }
    }
  } else if (m.has_finished()) {
    std::pair<int64_t, int> key{m.finished().attempt().run_id(), m.finished().attempt().attempt()};
    running_attempts_.erase(key);
    tokens_per_s_.erase(key);
    finished_->With({FinishedLabel(m.finished().state())}).Inc();
  } else {
    return;
  }
  double total = 0;
  for (const auto& [key, v] : tokens_per_s_) total += v;
  tokens_per_second_->With({}).Set(total);
  running_->With({}).Set(static_cast<double>(running_attempts_.size()));
}

void WorkerMetrics::CollectGpus() {
  absl::StatusOr<std::vector<GpuStats>> stats = gpu_query_();
  if (!stats.ok()) return;
  for (const GpuStats& g : *stats) {
    const std::string gpu = std::to_string(g.index);
    if (g.utilization) gpu_utilization_->With({gpu}).Set(*g.utilization);
    if (g.memory_used_bytes) gpu_memory_used_->With({gpu}).Set(static_cast<double>(*g.memory_used_bytes));
    if (g.memory_total_bytes) gpu_memory_total_->With({gpu}).Set(static_cast<double>(*g.memory_total_bytes));
  }
}

}  // namespace gwo::worker
