// LibTorch's autocast switches for CPU and CUDA, the same across Debian's LibTorch 1.13
// (one function per device) and LibTorch >= 2.4 (per device type). trainer/precision.h
// turns them on for a step; the models read them to pick the dtype of fused ops' outputs.
#ifndef GWO_WORKER_MODELS_AUTOCAST_STATE_H_
#define GWO_WORKER_MODELS_AUTOCAST_STATE_H_

#include <torch/types.h>

namespace gwo::models {

bool AutocastEnabled(bool cuda);
void SetAutocastEnabled(bool cuda, bool on);
torch::Dtype AutocastDtype(bool cuda);
void SetAutocastDtype(bool cuda, torch::Dtype dtype);

// The dtype a matmul on `device` computes in right now: autocast's dtype when autocast
// is on for that device type, else `otherwise`.
torch::Dtype MatmulDtypeNow(const torch::Device& device, torch::Dtype otherwise);

}  // namespace gwo::models

#endif  // GWO_WORKER_MODELS_AUTOCAST_STATE_H_
