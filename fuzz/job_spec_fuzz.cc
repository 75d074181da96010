// libFuzzer: the job-spec parser (and the run expansion of what it accepts) on any bytes.
#include <cstddef>
#include <cstdint>
#include <string>

#include "spec/experiment_spec.h"
#include "spec/parse.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (const char* scale : {"", "cpu", "gpu"}) {
    absl::StatusOr<gwo::spec::ExperimentSpec> spec = gwo::spec::ParseExperimentSpec(text, "fuzz.yaml", scale);
    if (!spec.ok()) continue;
    // What the coordinator does next with an accepted spec; each run spec it stores
    // must read back (ParseRunSpec(RunSpecToYaml(r)) is the workers' contract).
    for (const gwo::spec::RunSpec& run : gwo::spec::ExpandRuns(*spec)) {
      if (!gwo::spec::ParseRunSpec(gwo::spec::RunSpecToYaml(run), "run.yaml").ok()) __builtin_trap();
    }
  }
  return 0;
}
