// Every metric gwo-worker exports, declared in this one place, and the
// AgentObserver that updates them from the agent's connection and reports.
// tokens/s is the sum over the attempts running here of each one's latest
// `tokens_per_s` point; no label carries a run id. GPU use comes from nvidia-smi
// at scrape time, labelled by GPU index.
#ifndef GWO_WORKER_AGENT_WORKER_METRICS_H_
#define GWO_WORKER_AGENT_WORKER_METRICS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/metrics/registry.h"
#include "worker/agent/agent_observer.h"
#include "worker/agent/gpu_stats.h"

namespace gwo::worker {

class WorkerMetrics final : public AgentObserver {
 public:
  using GpuQuery = std::function<absl::StatusOr<std::vector<GpuStats>>()>;

  // Declares the families in `registry` (which must outlive this). `gpu_query`
  // runs at every scrape when set (hosts with GPUs); its errors leave the GPU
  // gauges as they were.
  WorkerMetrics(metrics::Registry* registry, int slots, GpuQuery gpu_query);

  // AgentObserver:
  void OnConnectionChanged(bool connected) override;
  void OnReport(const gwo::v1::WorkerMessage& report) override;

  bool connected() const { return connected_.load(); }

 private:
  void CollectGpus();

  const GpuQuery gpu_query_;
  std::atomic<bool> connected_{false};
  metrics::Family<metrics::Gauge>* connected_gauge_;
  metrics::Family<metrics::Counter>* connects_;
  metrics::Family<metrics::Gauge>* slots_;
  metrics::Family<metrics::Gauge>* running_;
  metrics::Family<metrics::Counter>* finished_;
  metrics::Family<metrics::Counter>* points_;
  metrics::Family<metrics::Gauge>* tokens_per_second_;
  metrics::Family<metrics::Gauge>* gpu_utilization_;
  metrics::Family<metrics::Gauge>* gpu_memory_used_;
  metrics::Family<metrics::Gauge>* gpu_memory_total_;

  absl::Mutex mu_;
  // Latest tokens_per_s of each running attempt (run id, attempt): kept here,
  // summed into one gauge.
  std::map<std::pair<int64_t, int>, double> tokens_per_s_ ABSL_GUARDED_BY(mu_);
  std::set<std::pair<int64_t, int>> running_attempts_ ABSL_GUARDED_BY(mu_);
};

}  // namespace gwo::worker

#endif  // GWO_WORKER_AGENT_WORKER_METRICS_H_
