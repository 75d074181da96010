// libFuzzer: the run-spec parser (run.yaml, and the spec embedded in checkpoints) on any
// bytes; what it accepts must survive a write and a second read unchanged.
#include <cstddef>
#include <cstdint>
#include <string>

#include "spec/parse.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<gwo::spec::RunSpec> run = gwo::spec::ParseRunSpec(text, "run.yaml");
  if (!run.ok()) return 0;
  const std::string once = gwo::spec::RunSpecToYaml(*run);
  absl::StatusOr<gwo::spec::RunSpec> again = gwo::spec::ParseRunSpec(once, "run.yaml");
  if (!again.ok() || gwo::spec::RunSpecToYaml(*again) != once) __builtin_trap();
  return 0;
}
