// Between safetensors files and torch tensors. LoadWeights and SaveHfCheckpoint
// (declared in model.h) live in hf_checkpoint.cc on top of these.
#ifndef GWO_WORKER_MODELS_HF_CHECKPOINT_H_
#define GWO_WORKER_MODELS_HF_CHECKPOINT_H_

#include <torch/types.h>

#include "worker/models/model.h"
#include "worker/models/safetensors.h"

namespace gwo::models {

// A CPU tensor with its own copy of `tensor`'s bytes, in the file's dtype (F32 ->
// float, F16 -> half, BF16 -> bfloat16, I64 -> long). `tensor` must be one of
// file.tensors().
torch::Tensor TensorFromSafetensors(const SafetensorsFile& file, const TensorInfo& tensor);

}  // namespace gwo::models

#endif  // GWO_WORKER_MODELS_HF_CHECKPOINT_H_
