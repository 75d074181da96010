#include "worker/agent/gpu_stats.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/subprocess.h"

namespace gwo::worker {

std::vector<GpuStats> ParseGpuStats(const std::string& csv) {
  std::vector<GpuStats> out;
  for (absl::string_view line : absl::StrSplit(csv, '\n', absl::SkipWhitespace())) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ',');
    if (f.size() != 4) continue;
    for (auto& field : f) field = absl::StripAsciiWhitespace(field);
    GpuStats g;
    if (!absl::SimpleAtoi(f[0], &g.index)) continue;
    double percent = 0, used_mib = 0, total_mib = 0;
    if (absl::SimpleAtod(f[1], &percent)) g.utilization = percent / 100.0;
    if (absl::SimpleAtod(f[2], &used_mib)) g.memory_used_bytes = static_cast<int64_t>(used_mib * 1024 * 1024);
    if (absl::SimpleAtod(f[3], &total_mib)) g.memory_total_bytes = static_cast<int64_t>(total_mib * 1024 * 1024);
    out.push_back(g);
  }
  return out;
}

absl::StatusOr<std::vector<GpuStats>> QueryGpuStats() {
  SpawnOptions smi;
  smi.argv = {"nvidia-smi", "--query-gpu=index,utilization.gpu,memory.used,memory.total",
              "--format=csv,noheader,nounits"};
  absl::StatusOr<std::string> out = RunCommand(smi, absl::Seconds(5));
  if (!out.ok()) return out.status();
  return ParseGpuStats(*out);
}

}  // namespace gwo::worker
