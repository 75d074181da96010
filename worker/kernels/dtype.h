// The storage type a kernel launcher takes for a LibTorch dtype: for the ops
// (the LibTorch .cc files) that call the kernels' launchers.
#ifndef GWO_WORKER_KERNELS_DTYPE_H_
#define GWO_WORKER_KERNELS_DTYPE_H_

#include <c10/core/ScalarType.h>

#include "worker/kernels/softmax_xent.h"  // LogitType

namespace gwo::kernels {

// bfloat16 and float16 as such; anything else is taken as float32 (the ops pass only
// these three).
inline LogitType KernelType(c10::ScalarType t) {
  return t == c10::kBFloat16 ? LogitType::kBFloat16 : t == c10::kHalf ? LogitType::kFloat16 : LogitType::kFloat32;
}

}  // namespace gwo::kernels

#endif  // GWO_WORKER_KERNELS_DTYPE_H_
