#include "worker/trainer/metric_functions.h"

#include <torch/torch.h>

#include <cmath>
#include <limits>

namespace gwo::trainer {

torch::Tensor TokenKl(const torch::Tensor& p_logits, const torch::Tensor& q_logits,
                      double temperature) {
  const torch::Tensor log_p = torch::log_softmax(p_logits.to(torch::kFloat32) / temperature, -1);
  const torch::Tensor log_q = torch::log_softmax(q_logits.to(torch::kFloat32) / temperature, -1);
  // (..., V) -> (...): sum_v P (log P - log Q), then the mean over positions.
  return (log_p.exp() * (log_p - log_q)).sum(-1).mean();
}

torch::Tensor DistillationLoss(const torch::Tensor& student_logits,
                               const torch::Tensor& teacher_logits, double temperature) {
  return TokenKl(teacher_logits.detach(), student_logits, temperature) * (temperature * temperature);
}

double MeanSquaredErrorPerLayer(const std::vector<torch::Tensor>& a,
                                const std::vector<torch::Tensor>& b) {
  if (a.empty() || a.size() != b.size()) return std::numeric_limits<double>::quiet_NaN();
  double sum = 0.0;
  for (size_t l = 0; l < a.size(); ++l) {
    sum += (a[l].to(torch::kFloat64) - b[l].to(torch::kFloat64)).pow(2).mean().item<double>();
  }
  return sum / static_cast<double>(a.size());
}

double CosineSimilarity(const torch::Tensor& a, const torch::Tensor& b) {
  const torch::Tensor x = a.reshape({-1}).to(torch::kFloat64);
  const torch::Tensor y = b.reshape({-1}).to(torch::kFloat64);
  const double norms = x.norm().item<double>() * y.norm().item<double>();
  if (norms == 0.0) return 0.0;
  return x.dot(y).item<double>() / norms;
}

double KendallTau(const torch::Tensor& x_in, const torch::Tensor& y_in) {
  const torch::Tensor x = x_in.reshape({-1}).to(torch::kFloat64).cpu().contiguous();
  const torch::Tensor y = y_in.reshape({-1}).to(torch::kFloat64).cpu().contiguous();
  TORCH_CHECK(x.numel() == y.numel() && x.numel() >= 2, "Kendall's tau needs two equal-length "
              "lists of at least 2 values, got ", x.numel(), " and ", y.numel());
  const double* xs = x.data_ptr<double>();
  const double* ys = y.data_ptr<double>();
  const int64_t n = x.numel();
  int64_t concordant = 0, discordant = 0, tied_x = 0, tied_y = 0;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = i + 1; j < n; ++j) {
      const double dx = xs[i] - xs[j], dy = ys[i] - ys[j];
      if (dx == 0) ++tied_x;
      if (dy == 0) ++tied_y;
      if (dx == 0 || dy == 0) continue;
      ((dx > 0) == (dy > 0) ? concordant : discordant) += 1;
    }
  }
  const double pairs = static_cast<double>(n) * (n - 1) / 2.0;
  const double denominator = std::sqrt((pairs - tied_x) * (pairs - tied_y));
  if (denominator == 0.0) return std::numeric_limits<double>::quiet_NaN();
  return static_cast<double>(concordant - discordant) / denominator;
}

}  // namespace gwo::trainer
