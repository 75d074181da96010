// Plain tensor math behind the comparison metrics (no models): KL between next-token
// distributions, MSE of attention maps, cosine similarity, Kendall's tau.
#ifndef GWO_WORKER_TRAINER_METRIC_FUNCTIONS_H_
#define GWO_WORKER_TRAINER_METRIC_FUNCTIONS_H_

#include <torch/types.h>

#include <vector>

namespace gwo::trainer {

// Mean over positions of KL(P ‖ Q) in nats, P = softmax(p_logits / temperature),
// Q = softmax(q_logits / temperature) over the last dimension:
//   sum_v P_v (log P_v - log Q_v).
// p_logits, q_logits: (..., V) of equal shape. Returns a scalar tensor (differentiable
// in both). 0 exactly when the distributions agree.
torch::Tensor TokenKl(const torch::Tensor& p_logits, const torch::Tensor& q_logits,
                      double temperature = 1.0);

// The distillation term: temperature^2 * TokenKl(teacher, student, temperature)
// (the T^2 keeps gradient magnitudes comparable across temperatures, as in Hinton et
// al.). teacher_logits carries no gradient.
torch::Tensor DistillationLoss(const torch::Tensor& student_logits,
                               const torch::Tensor& teacher_logits, double temperature);

// mean over layers of mean((a_l - b_l)^2), each a_l, b_l of equal shape, e.g. the
// (B, nh, T, T) attention probabilities of two models on the same inputs. NaN when
// the lists are empty or differ in length.
double MeanSquaredErrorPerLayer(const std::vector<torch::Tensor>& a,
                                const std::vector<torch::Tensor>& b);

// <a, b> / (|a| |b|) of the flattened tensors (float64); 0 when either is all zero.
double CosineSimilarity(const torch::Tensor& a, const torch::Tensor& b);

// Kendall's tau-b of the paired values x_i, y_i (1-D, equal length n >= 2):
//   (n_c - n_d) / sqrt((n0 - n_x) (n0 - n_y)),
// n0 = n(n-1)/2 pairs, n_c / n_d the concordant / discordant pairs, n_x (n_y) the
// pairs tied in x (in y), ties in both counted in each. NaN when x or y is constant.
double KendallTau(const torch::Tensor& x, const torch::Tensor& y);

}  // namespace gwo::trainer

#endif  // GWO_WORKER_TRAINER_METRIC_FUNCTIONS_H_
