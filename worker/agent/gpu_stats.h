// Live use of this host's NVIDIA GPUs, as nvidia-smi reports it (the agent does
// not link CUDA).
#ifndef GWO_WORKER_AGENT_GPU_STATS_H_
#define GWO_WORKER_AGENT_GPU_STATS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace gwo::worker {

struct GpuStats {
  int index = 0;
  std::optional<double> utilization;  // 0..1, over nvidia-smi's last sample period
  std::optional<int64_t> memory_used_bytes;
  std::optional<int64_t> memory_total_bytes;
};

// Runs `nvidia-smi --query-gpu=index,utilization.gpu,memory.used,memory.total
// --format=csv,noheader,nounits`. UNAVAILABLE-like errors from RunCommand when
// nvidia-smi is missing or fails.
absl::StatusOr<std::vector<GpuStats>> QueryGpuStats();

// Parses that output ("0, 35, 1024, 81559" per line; MiB and percent). A field
// nvidia-smi cannot report ("[N/A]", "[Not Supported]") is left empty; lines
// without a numeric index are skipped.
std::vector<GpuStats> ParseGpuStats(const std::string& csv);

}  // namespace gwo::worker

#endif  // GWO_WORKER_AGENT_GPU_STATS_H_
