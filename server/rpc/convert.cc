#include "server/rpc/convert.h"

#include "nlohmann/json.hpp"

namespace gwo::server {

void SetTime(absl::Time t, google::protobuf::Timestamp* out) {
  const int64_t micros = absl::ToUnixMicros(t);
  out->set_seconds(micros / 1000000);
  out->set_nanos(static_cast<int32_t>((micros % 1000000) * 1000));
}

namespace {

gwo::v1::ExperimentState ToProto(ExperimentState s) {
  switch (s) {
    case ExperimentState::kActive: return gwo::v1::EXPERIMENT_STATE_ACTIVE;
    case ExperimentState::kSucceeded: return gwo::v1::EXPERIMENT_STATE_SUCCEEDED;
    case ExperimentState::kFailed: return gwo::v1::EXPERIMENT_STATE_FAILED;
    case ExperimentState::kCancelled: return gwo::v1::EXPERIMENT_STATE_CANCELLED;
  }
  return gwo::v1::EXPERIMENT_STATE_UNSPECIFIED;
}

}  // namespace

gwo::v1::RunState ToProto(RunState s) {
  switch (s) {
    case RunState::kQueued: return gwo::v1::RUN_STATE_QUEUED;
    case RunState::kRunning: return gwo::v1::RUN_STATE_RUNNING;
    case RunState::kSucceeded: return gwo::v1::RUN_STATE_SUCCEEDED;
    case RunState::kFailed: return gwo::v1::RUN_STATE_FAILED;
    case RunState::kCancelled: return gwo::v1::RUN_STATE_CANCELLED;
  }
  return gwo::v1::RUN_STATE_UNSPECIFIED;
}

std::optional<RunState> FromProto(gwo::v1::RunState s) {
  switch (s) {
    case gwo::v1::RUN_STATE_QUEUED: return RunState::kQueued;
    case gwo::v1::RUN_STATE_RUNNING: return RunState::kRunning;
    case gwo::v1::RUN_STATE_SUCCEEDED: return RunState::kSucceeded;
    case gwo::v1::RUN_STATE_FAILED: return RunState::kFailed;
    case gwo::v1::RUN_STATE_CANCELLED: return RunState::kCancelled;
    default: return std::nullopt;
  }
}

void ToProto(const ExperimentRecord& r, gwo::v1::Experiment* out) {
  out->set_id(r.id);
  out->set_name(r.name);
  out->set_state(ToProto(r.state));
  out->set_spec_yaml(r.spec_yaml);
  out->set_run_count(r.run_count);
  for (const auto& [state, count] : r.runs_by_state) {
    (*out->mutable_runs_by_state())[gwo::v1::RunState_Name(ToProto(state))] = count;
  }
  SetTime(r.created_at, out->mutable_created_at());
  if (r.finished_at.has_value()) SetTime(*r.finished_at, out->mutable_finished_at());
  out->set_idempotency_key(r.idempotency_key);
  out->set_project(r.project);
  out->set_owner(r.owner);
}

void ToProto(const RunRecord& r, gwo::v1::Run* out) {
  out->set_id(r.id);
  out->set_experiment_id(r.experiment_id);
  out->set_name(r.name);
  out->set_variant(r.variant);
  out->set_dataset(r.dataset);
  out->set_seed(r.seed);
  out->set_state(ToProto(r.state));
  out->set_attempt(r.attempt);
  out->set_step(r.step);
  out->set_total_steps(r.total_steps);
  out->set_error(r.error);
  out->set_worker(r.worker);
  out->set_run_spec_yaml(r.spec_yaml);
  out->set_output_dir(r.output_dir);
  for (const auto& [name, value] : r.latest_metrics) (*out->mutable_latest_metrics())[name] = value;
  SetTime(r.created_at, out->mutable_created_at());
  if (r.started_at.has_value()) SetTime(*r.started_at, out->mutable_started_at());
  if (r.finished_at.has_value()) SetTime(*r.finished_at, out->mutable_finished_at());
}

void ToProto(const MetricSeriesRecord& r, gwo::v1::MetricSeries* out) {
  out->set_name(r.name);
  for (const MetricPointRecord& p : r.points) {
    gwo::v1::MetricPoint* point = out->add_points();
    point->set_step(p.step);
    point->set_name(r.name);
    point->set_value(p.value);
  }
}

void ToProto(const DownsampledSeriesRecord& r, gwo::v1::DownsampledSeries* out) {
  out->set_name(r.name);
  out->set_total_points(r.total_points);
  for (const MetricBucketRecord& b : r.buckets) {
    gwo::v1::MetricBucket* o = out->add_buckets();
    o->set_step_start(b.step_start);
    o->set_step_end(b.step_end);
    o->set_count(b.count);
    o->set_first(b.first);
    o->set_last(b.last);
    o->set_min(b.min);
    o->set_max(b.max);
    o->set_mean(b.mean);
  }
}

std::vector<DeviceRecord> DevicesOf(const gwo::v1::RegisterWorker& r) {
  std::vector<DeviceRecord> out;
  for (const auto& d : r.devices()) out.push_back({d.kind(), d.index(), d.memory_bytes()});
  return out;
}

std::string DevicesJson(const gwo::v1::RegisterWorker& r) {
  nlohmann::json devices = nlohmann::json::array();
  for (const auto& d : r.devices()) {
    devices.push_back({{"kind", d.kind()}, {"index", d.index()}, {"memory_bytes", d.memory_bytes()}});
  }
  return devices.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace gwo::server
