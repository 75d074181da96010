// Store records -> public protos. The only place that knows both.
#ifndef GWO_SERVER_RPC_CONVERT_H_
#define GWO_SERVER_RPC_CONVERT_H_

#include "gwo/v1/experiments.pb.h"
#include "gwo/v1/metrics.pb.h"
#include "server/store/store.h"

namespace gwo::server {

void ToProto(const ExperimentRecord& record, gwo::v1::Experiment* out);
void ToProto(const RunRecord& record, gwo::v1::Run* out);
void ToProto(const MetricSeriesRecord& record, gwo::v1::MetricSeries* out);
void ToProto(const DownsampledSeriesRecord& record, gwo::v1::DownsampledSeries* out);
gwo::v1::RunState ToProto(RunState state);
// RUN_STATE_UNSPECIFIED and unknown values map to nullopt.
std::optional<RunState> FromProto(gwo::v1::RunState state);

}  // namespace gwo::server

#endif  // GWO_SERVER_RPC_CONVERT_H_
