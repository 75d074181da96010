// libFuzzer: the safetensors reader (checkpoints, HF weights) on any bytes. Of a file it
// accepts, every tensor's bytes are read to the last and match its shape and dtype.
#include <cstddef>
#include <cstdint>
#include <string>

#include "worker/models/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  for (bool allow_int64 : {false, true}) {
    auto file = gwo::models::SafetensorsFile::Parse(bytes, "fuzz", {.allow_int64 = allow_int64});
    if (!file.ok()) continue;
    for (const gwo::models::TensorInfo& t : (*file)->tensors()) {
      const std::string_view view = (*file)->Data(t);
      uint64_t elements = 1;
      for (int64_t d : t.shape) elements *= static_cast<uint64_t>(d);
      if (view.size() != elements * gwo::models::DtypeSize(t.dtype)) __builtin_trap();
      volatile unsigned char last = view.empty() ? 0 : static_cast<unsigned char>(view.back());
      (void)last;
      if ((*file)->Find(t.name) != &t) __builtin_trap();
    }
  }
  return 0;
}
