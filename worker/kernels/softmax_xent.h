// The cross-entropy of one chunk of LM-head logits and its gradient, in one pass over
// the logits, in place: the op behind trainer/lm_head_loss.h on CUDA. Free of
// LibTorch, so that nvcc compiles it without LibTorch's headers.
//
// For each row r of `logits` (rows x ld, row-major; only the first V columns are the
// vocabulary, the rest are padding that is never predicted):
//   lse_r  = log sum_{j<V} exp(logits[r, j])                      (float32)
//   loss_r = lse_r - logits[r, t_r]                                (t_r = targets[r])
//   logits[r, j] <- (softmax_j - [j == t_r]) * inv_count[0]   for j < V
//   logits[r, j] <- 0                                          for V <= j < ld
// Rows whose target is negative (ignored) get loss 0 and an all-zero gradient.
// `inv_count` is a device scalar (1 / the number of counted rows of the whole batch),
// read by the kernel so that nothing waits for the host.
#ifndef GWO_WORKER_KERNELS_SOFTMAX_XENT_H_
#define GWO_WORKER_KERNELS_SOFTMAX_XENT_H_

#include <cstdint>

namespace gwo::kernels {

enum class LogitType { kFloat32, kBFloat16, kFloat16 };

// Launches on `stream` (a cudaStream_t). Returns the CUDA error of the launch
// (0: cudaSuccess). Requires V <= ld, rows >= 0; the logits pointer and ld need no
// alignment (16-byte rows take the vector path).
int SoftmaxXentGradInPlace(void* logits, LogitType type, int64_t rows, int64_t V, int64_t ld,
                           const int64_t* targets, const float* inv_count, float* row_loss,
                           void* stream);

}  // namespace gwo::kernels

#endif  // GWO_WORKER_KERNELS_SOFTMAX_XENT_H_
