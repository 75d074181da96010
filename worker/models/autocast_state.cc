#include "worker/models/autocast_state.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

// LibTorch 2.4 made autocast's switches per device type.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define GWO_AUTOCAST_BY_DEVICE_TYPE 1
#endif

namespace gwo::models {

bool AutocastEnabled(bool cuda) {
#ifdef GWO_AUTOCAST_BY_DEVICE_TYPE
  return at::autocast::is_autocast_enabled(cuda ? at::kCUDA : at::kCPU);
#else
  return cuda ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
#endif
}

void SetAutocastEnabled(bool cuda, bool on) {
#ifdef GWO_AUTOCAST_BY_DEVICE_TYPE
  at::autocast::set_autocast_enabled(cuda ? at::kCUDA : at::kCPU, on);
#else
  cuda ? at::autocast::set_enabled(on) : at::autocast::set_cpu_enabled(on);
#endif
}

torch::Dtype AutocastDtype(bool cuda) {
#ifdef GWO_AUTOCAST_BY_DEVICE_TYPE
  return at::autocast::get_autocast_dtype(cuda ? at::kCUDA : at::kCPU);
#else
  return cuda ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
#endif
}

void SetAutocastDtype(bool cuda, torch::Dtype dtype) {
#ifdef GWO_AUTOCAST_BY_DEVICE_TYPE
  at::autocast::set_autocast_dtype(cuda ? at::kCUDA : at::kCPU, dtype);
#else
  cuda ? at::autocast::set_autocast_gpu_dtype(dtype) : at::autocast::set_autocast_cpu_dtype(dtype);
#endif
}

torch::Dtype MatmulDtypeNow(const torch::Device& device, torch::Dtype otherwise) {
  const bool cuda = device.is_cuda();
  if (!cuda && !device.is_cpu()) return otherwise;
  return AutocastEnabled(cuda) ? AutocastDtype(cuda) : otherwise;
}

}  // namespace gwo::models
