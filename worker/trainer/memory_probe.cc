#include "worker/trainer/memory_probe.h"

#include <cstdio>
#include <cstring>

#if GWO_WITH_CUDA_STATS
#include <c10/cuda/CUDACachingAllocator.h>
#include <torch/cuda.h>
#endif

namespace gwo::trainer {
namespace {

// VmHWM of /proc/self/status in bytes, or -1.
int64_t PeakResidentBytes() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return -1;
  char line[256];
  int64_t kb = -1;
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    long long v = 0;
    if (std::sscanf(line, "VmHWM: %lld kB", &v) == 1) {
      kb = v;
      break;
    }
  }
  std::fclose(f);
  return kb < 0 ? -1 : kb * 1024;
}

}  // namespace

void ResetPeakMemory(const torch::Device& device) {
#if GWO_WITH_CUDA_STATS
  if (device.is_cuda()) {
    torch::cuda::synchronize(device.index());
    c10::cuda::CUDACachingAllocator::resetPeakStats(device.index());
    return;
  }
#endif
  if (!device.is_cpu()) return;
  if (std::FILE* f = std::fopen("/proc/self/clear_refs", "w")) {
    std::fputs("5", f);  // 5: reset the peak resident set size
    std::fclose(f);
  }
}

int64_t PeakMemoryBytes(const torch::Device& device) {
#if GWO_WITH_CUDA_STATS
  if (device.is_cuda()) {
    torch::cuda::synchronize(device.index());
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index());
    return stats.allocated_bytes[0].peak;  // [0]: StatType::AGGREGATE
  }
#endif
  if (!device.is_cpu()) return -1;
  return PeakResidentBytes();
}

}  // namespace gwo::trainer
