// Peak memory of a stretch of work: on CUDA the caching allocator's peak of
// allocated bytes (when this LibTorch has CUDA), on CPU the process's peak resident
// set (VmHWM, reset through /proc/self/clear_refs).
#ifndef GWO_WORKER_TRAINER_MEMORY_PROBE_H_
#define GWO_WORKER_TRAINER_MEMORY_PROBE_H_

#include <torch/types.h>

#include <cstdint>

namespace gwo::trainer {

// Starts a measurement on `device`: resets the peak counter (CPU: writes "5" to
// /proc/self/clear_refs, so VmHWM restarts from the current RSS).
void ResetPeakMemory(const torch::Device& device);

// Bytes at the peak since ResetPeakMemory on `device` (CUDA: allocated tensor bytes,
// the model's included; CPU: resident bytes of the whole process), or -1 when it
// cannot be read (no CUDA statistics in this build, no /proc).
int64_t PeakMemoryBytes(const torch::Device& device);

}  // namespace gwo::trainer

#endif  // GWO_WORKER_TRAINER_MEMORY_PROBE_H_
