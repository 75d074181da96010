// The language-modelling loss through the LM head, without the (N, V) float32 logits:
//   mean over counted positions of cross_entropy(hidden @ weight^T, targets)
// (PyTorch: F.cross_entropy(F.linear(h, W).float().view(-1, V), t.view(-1),
// ignore_index=-100)). The vocabulary is padded inside the op to a multiple of 128 (the
// padding columns are never predicted and never leave it), and the logits exist one
// chunk of rows at a time: each chunk's logits are computed in the compute dtype, turned
// into their gradient in place by one kernel (worker/kernels/softmax_xent.h), and
// multiplied into the gradients of hidden and weight at once, so backward only scales
// what forward kept. Peak extra memory: one chunk of logits (about 256 MiB) plus the
// float32 gradient of the weight.
#ifndef GWO_WORKER_TRAINER_LM_HEAD_LOSS_H_
#define GWO_WORKER_TRAINER_LM_HEAD_LOSS_H_

#include <torch/types.h>

#include <cstdint>
#include <utility>

namespace gwo::trainer {

// hidden (..., C) float32 or `compute`; weight (V, C) float32 (a master parameter);
// targets (...) int64 with hidden's leading shape; a target < 0 (e.g. -100) is left out
// of the loss and of the count. `compute`: the dtype of the logits and the matmuls
// (bfloat16/float16 under bf16/fp16 training, float32 otherwise); the softmax and the
// loss are float32 whatever it is. Returns the () float32 mean over the counted
// positions (0 when none is counted), differentiable in hidden and weight.
// On CUDA: the chunked op below. On CPU: the plain reference (float32 logits).
torch::Tensor LmHeadLoss(const torch::Tensor& hidden, const torch::Tensor& weight,
                         const torch::Tensor& targets, torch::Dtype compute);

// The chunked op itself on any device, `chunk_rows` rows of logits at a time (0: as many
// as fit in 256 MiB). Under no_grad (evaluation) it computes the loss alone. On CPU, or without gwo's CUDA kernels, the in-place gradient uses
// LibTorch ops (the kernel's reference); the tests compare both with the plain path.
torch::Tensor ChunkedLmHeadLoss(const torch::Tensor& hidden, const torch::Tensor& weight,
                                const torch::Tensor& targets, torch::Dtype compute,
                                int64_t chunk_rows = 0);

// The reference both are checked against: float32 logits of the compute-dtype matmul,
// then cross-entropy summed over counted positions / max(count, 1).
torch::Tensor ReferenceLmHeadLoss(const torch::Tensor& hidden, const torch::Tensor& weight,
                                  const torch::Tensor& targets, torch::Dtype compute);

// Distillation's two terms through the student's LM head, a chunk of rows at a time
// like ChunkedLmHeadLoss, from the teacher's logits:
//   lm = the LmHeadLoss above (mean cross-entropy over counted positions);
//   kl = DistillationLoss (metric_functions.h): temperature^2 * the mean over all
//        positions of KL(softmax(teacher / T) || softmax(student / T)).
// teacher_logits (..., V) carry no gradient; any floating dtype (the compute dtype
// under autocast). Returns {lm, kl}, () float32 each, each differentiable in hidden and
// weight, so any weighted sum of them backpropagates exactly. On CUDA one kernel
// (worker/kernels/distill_xent.h) turns each chunk into both gradients; elsewhere
// LibTorch ops do.
std::pair<torch::Tensor, torch::Tensor> DistillLmHeadLoss(const torch::Tensor& hidden,
                                                          const torch::Tensor& weight,
                                                          const torch::Tensor& targets,
                                                          const torch::Tensor& teacher_logits,
                                                          double temperature, torch::Dtype compute,
                                                          int64_t chunk_rows = 0);

// Its reference: full float32 logits, LmHeadLoss's reference and DistillationLoss.
std::pair<torch::Tensor, torch::Tensor> ReferenceDistillLmHeadLoss(
    const torch::Tensor& hidden, const torch::Tensor& weight, const torch::Tensor& targets,
    const torch::Tensor& teacher_logits, double temperature, torch::Dtype compute);

// The vocabulary a padded LM head computes: V rounded up to a multiple of 128.
int64_t PaddedVocabulary(int64_t V);

}  // namespace gwo::trainer

#endif  // GWO_WORKER_TRAINER_LM_HEAD_LOSS_H_
