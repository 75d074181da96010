// Where a new attempt of a run continues: the newest valid training-state
// checkpoint among the run's earlier attempts' output directories (newest attempt
// first), and the metric history up to that checkpoint's step. Runs in the worker,
// before gwo-train starts; reads files only (no LibTorch).
#ifndef GWO_WORKER_AGENT_RESUME_H_
#define GWO_WORKER_AGENT_RESUME_H_

#include <cstdint>
#include <string>
#include <vector>

#include "gwo/v1/metrics.pb.h"

namespace gwo::worker {

struct ResumeChoice {
  std::string checkpoint;  // for gwo-train --resume-from; empty: start from scratch
  int64_t step = 0;        // the checkpoint's step; 0 from scratch
  // The points of the checkpoint's attempt up to `step` (its <out>/metrics.jsonl),
  // as points and as the JSON lines themselves, for the new attempt's metrics.jsonl.
  std::vector<gwo::v1::MetricPoint> history;
  std::string history_jsonl;
  // How the choice was made, for the attempt's log: each checkpoint passed over
  // (missing, corrupt, another spec) and the one taken, or why from scratch.
  std::vector<std::string> log;
};

// For a run with spec `run_spec_yaml`, looks in <dir>/checkpoints of each of
// `earlier_outputs` (newest attempt first) for the newest checkpoint that
// gwo-train can resume from (checksum and spec checked; a corrupt file is renamed
// to *.corrupt and the next older one tried). Never fails: anything unusable is
// logged and passed over, and with nothing usable the attempt starts from scratch.
ResumeChoice ChooseResume(const std::string& run_spec_yaml, const std::vector<std::string>& earlier_outputs);

// Parses one line of gwo-train's metrics.jsonl ({"step":N,"name":"X","value":V},
// V a number or null for a non-finite value). False for anything else.
bool ParseMetricJson(const std::string& line, gwo::v1::MetricPoint* point);

}  // namespace gwo::worker

#endif  // GWO_WORKER_AGENT_RESUME_H_
