#include "worker/agent/devices.h"

#include <unistd.h>

#include <fstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/subprocess.h"

namespace gwo::worker {
namespace {

std::string CpuName() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) return std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
    }
  }
  return "cpu";
}

int64_t MemoryBytes() {
  long pages = sysconf(_SC_PHYS_PAGES);
  long page = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? static_cast<int64_t>(pages) * page : 0;
}

}  // namespace

std::vector<gwo::v1::Device> DetectDevices() {
  std::vector<gwo::v1::Device> devices;
  gwo::v1::Device cpu;
  cpu.set_kind("cpu");
  cpu.set_index(0);
  cpu.set_name(CpuName());
  cpu.set_memory_bytes(MemoryBytes());
  devices.push_back(cpu);

  SpawnOptions smi;
  smi.argv = {"nvidia-smi", "--query-gpu=index,name,memory.total", "--format=csv,noheader,nounits"};
  absl::StatusOr<std::string> out = RunCommand(smi, absl::Seconds(10));
  if (!out.ok()) return devices;  // no NVIDIA driver on this host
  for (absl::string_view line : absl::StrSplit(*out, '\n', absl::SkipWhitespace())) {
    std::vector<std::string> f = absl::StrSplit(line, ',');
    if (f.size() != 3) continue;
    int index = 0;
    int64_t mib = 0;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(f[0]), &index)) continue;
    absl::SimpleAtoi(absl::StripAsciiWhitespace(f[2]), &mib);
    gwo::v1::Device gpu;
    gpu.set_kind("cuda");
    gpu.set_index(index);
    gpu.set_name(std::string(absl::StripAsciiWhitespace(f[1])));
    gpu.set_memory_bytes(mib * 1024 * 1024);
    devices.push_back(gpu);
  }
  return devices;
}

}  // namespace gwo::worker
