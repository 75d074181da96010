// Store records -> public protos. The only place that knows both.
#ifndef GWO_SERVER_RPC_CONVERT_H_
#define GWO_SERVER_RPC_CONVERT_H_

#include "gwo/v1/experiments.pb.h"
#include "gwo/v1/metrics.pb.h"
#include "gwo/v1/workers.pb.h"
#include "server/store/store.h"

namespace gwo::server {

void SetTime(absl::Time t, google::protobuf::Timestamp* out);
void ToProto(const ExperimentRecord& record, gwo::v1::Experiment* out);
void ToProto(const RunRecord& record, gwo::v1::Run* out);
void ToProto(const MetricSeriesRecord& record, gwo::v1::MetricSeries* out);
void ToProto(const DownsampledSeriesRecord& record, gwo::v1::DownsampledSeries* out);
gwo::v1::RunState ToProto(RunState state);
// RUN_STATE_UNSPECIFIED and unknown values map to nullopt.
std::optional<RunState> FromProto(gwo::v1::RunState state);
// A registering worker's devices, in the form the workers table keeps them
// (WorkerInfo::devices), and as a JSON array written by a JSON library: the worker's
// strings are data, and bytes that are not UTF-8 become U+FFFD.
std::vector<DeviceRecord> DevicesOf(const gwo::v1::RegisterWorker& r);
std::string DevicesJson(const gwo::v1::RegisterWorker& r);

}  // namespace gwo::server

#endif  // GWO_SERVER_RPC_CONVERT_H_
