// The residual add and the LayerNorm after it, as one kernel each way: the CUDA side
// of models/residual_layer_norm.h. Free of LibTorch.
//
// Forward, per row r of N rows of width C:
//   s[r]   = x[r] + delta[r]                               (float32; x float32, delta T)
//   y[r]   = (s[r] - mean) * rstd * gamma + beta           (T)
//   mean[r], rstd[r] = the row's mean and 1 / sqrt(var + eps)   (float32, for backward)
// Backward, given dy (T) and ds_in (float32, the gradient reaching s from the residual
// path; may be null):
//   xhat = (s - mean) * rstd, g = dy * gamma
//   ds   = rstd * (g - mean(g) - xhat * mean(g * xhat)) + ds_in   (float32, the grad of x)
//   ddelta = ds as T
//   gamma_partial[b], beta_partial[b] = sums of dy * xhat and dy over block b's rows
//   (float32, (blocks, C); the caller sums over blocks).
#ifndef GWO_WORKER_KERNELS_RESIDUAL_LAYER_NORM_H_
#define GWO_WORKER_KERNELS_RESIDUAL_LAYER_NORM_H_

#include <cstdint>

#include "worker/kernels/softmax_xent.h"  // LogitType: the storage type T

namespace gwo::kernels {

// The widest row the kernels take.
inline constexpr int64_t kResidualLayerNormMaxWidth = 8192;

// Rows per block of the backward kernel (so `blocks` = ceil(N / this)).
inline constexpr int64_t kResidualLayerNormRowsPerBlock = 32;

// All pointers contiguous, row-major. Return the CUDA error of the launch (0: success).
int ResidualLayerNormForward(const float* x, const void* delta, const float* gamma, const float* beta,
                             LogitType type, int64_t N, int64_t C, float eps, float* s, void* y,
                             float* mean, float* rstd, void* stream);

int ResidualLayerNormBackward(const void* dy, const float* ds_in, const float* s, const float* mean,
                              const float* rstd, const float* gamma, LogitType type, int64_t N, int64_t C,
                              float* ds, void* ddelta, float* gamma_partial, float* beta_partial,
                              void* stream);

}  // namespace gwo::kernels

#endif  // GWO_WORKER_KERNELS_RESIDUAL_LAYER_NORM_H_
