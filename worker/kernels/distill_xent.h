// Distillation's two losses over one chunk of LM-head logits and their gradients, in
// one kernel: the next-token cross-entropy of the student and the KL of the teacher's
// distribution from the student's at a temperature. The op behind DistillLmHeadLoss
// (trainer/lm_head_loss.h) on CUDA; free of LibTorch.
//
// For each row r, with s = student[r, :V], t = teacher[r, :V], tau the temperature:
//   ce_r = logsumexp(s) - s[target_r]                         (0 when target_r < 0)
//   kl_r = tau^2 * sum_j q_j (log q_j - log p_j),  q = softmax(t / tau), p = softmax(s / tau)
//   student[r, j] <- (softmax(s)_j - [j == target_r]) * inv_count[0]   (0 when ignored)
//   grad_kl[r, j] <- tau * (p_j - q_j) * inv_rows
// and 0 in both for the padding columns V <= j < ld. (d kl_r / d s_j = tau * (p_j - q_j).)
#ifndef GWO_WORKER_KERNELS_DISTILL_XENT_H_
#define GWO_WORKER_KERNELS_DISTILL_XENT_H_

#include <cstdint>

#include "worker/kernels/softmax_xent.h"  // LogitType

namespace gwo::kernels {

// student and grad_kl: rows x ld; teacher: rows x ld_teacher (ld_teacher >= V); all of
// `type`. inv_count: a device scalar; inv_rows, temperature: host values. Launches on
// `stream`; returns the CUDA error of the launch (0: success).
int DistillXentGradInPlace(void* student, const void* teacher, void* grad_kl, LogitType type,
                           int64_t rows, int64_t V, int64_t ld, int64_t ld_teacher,
                           const int64_t* targets, const float* inv_count, float inv_rows,
                           float temperature, float* row_ce, float* row_kl, void* stream);

}  // namespace gwo::kernels

#endif  // GWO_WORKER_KERNELS_DISTILL_XENT_H_
