// Every metric gwo-coordinator exports, declared in this one place, and the
// CoordinatorObserver that updates them. Gauges of state (runs by state, workers
// and GPUs) are read when /metrics is fetched: runs from the database, workers
// from the core. No label takes an unbounded value: states, gRPC methods of
// gwo's services and status codes only.
#ifndef GWO_SERVER_TELEMETRY_COORDINATOR_METRICS_H_
#define GWO_SERVER_TELEMETRY_COORDINATOR_METRICS_H_

#include "common/metrics/registry.h"
#include "server/coordinator.h"
#include "server/store/store.h"

namespace gwo::server {

class CoordinatorMetrics final : public CoordinatorObserver {
 public:
  // Declares the families in `registry` (which must outlive this) and hooks the
  // store's transaction errors. `store` must outlive this.
  CoordinatorMetrics(metrics::Registry* registry, Store* store);

  // Adds the collectors that read the core's workers and the database's runs at
  // every scrape. `core` must outlive the registry's use.
  void Watch(Coordinator* core);

  // CoordinatorObserver. OnAttemptDispatched reads the attempt's queue wait from
  // the database (one indexed query per dispatch).
  void OnAttemptDispatched(const Assignment& assignment) override;
  void OnMetricsIngested(int64_t points) override;
  void OnAttemptFinished(RunState state) override;

  // gwo_rpc_duration_seconds{method, code}, for the gRPC interceptor.
  metrics::Family<metrics::Histogram>* rpc_duration() const { return rpc_duration_; }

 private:
  // Reads runs by state from the database into the gauges; on error the gauges
  // keep their last values (the error is counted by the store's hook).
  void CollectRuns();
  void CollectWorkers(Coordinator* core);

  metrics::Registry* const registry_;
  Store* const store_;
  metrics::Family<metrics::Gauge>* runs_;
  metrics::Family<metrics::Gauge>* queue_depth_;
  metrics::Family<metrics::Histogram>* queue_wait_;
  metrics::Family<metrics::Counter>* attempts_dispatched_;
  metrics::Family<metrics::Counter>* attempts_finished_;
  metrics::Family<metrics::Counter>* points_ingested_;
  metrics::Family<metrics::Gauge>* workers_;
  metrics::Family<metrics::Gauge>* slots_;
  metrics::Family<metrics::Gauge>* gpus_;
  metrics::Family<metrics::Histogram>* rpc_duration_;
  metrics::Family<metrics::Counter>* database_errors_;
};

// The error codes counted as database errors: the database or the connection
// failed, not the caller's input (NOT_FOUND, FAILED_PRECONDITION, ... are not).
bool IsDatabaseError(const absl::Status& status);

}  // namespace gwo::server

#endif  // GWO_SERVER_TELEMETRY_COORDINATOR_METRICS_H_
