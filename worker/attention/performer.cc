// Performer attention, FAVOR+ (Choromanski et al., 2021).
//
//   omega: (m, hd), blocks of hd orthogonal rows (QR of a Gaussian matrix), each row
//          rescaled to the norm of a Gaussian vector (so rows are marginally N(0, I))
//   x~     = x / hd^(1/4)                                        (so x~ . y~ = x . y / sqrt(hd))
//   phi(x) = exp(omega x~ - |x~|^2 / 2 - c) / sqrt(m)            (B, nh, T, m), positive, float32
//   E[phi(q) . phi(k)] = exp(q . k / sqrt(hd)) * exp(-c_q - c_k)
//   num_t  = phi(q_t) sum_{s <= t} phi(k_s) v_s^T                (B, nh, T, hd)  prefix sums
//   den_t  = phi(q_t) . sum_{s <= t} phi(k_s)                    (B, nh, T)
//   out_t  = num_t / den_t
//
// The stabilisers c cancel between num and den: c_q is the max of the exponent over
// features per query (detached); c_k depends on omega only (see Features()), so
// causality is exact. omega is a buffer
// (saved with the model), redrawn every redraw_interval training forwards (0: never).
// No dropout (there is no probability matrix to drop from).
#include "worker/attention/performer.h"

#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <tuple>
#include <vector>

#include "worker/attention/common.h"

namespace gwo::attention {
namespace {

// (m, d) rows: orthogonal within each block of d, norms distributed like |N(0, I_d)|.
torch::Tensor OrthogonalFeatures(int64_t m, int64_t d, const torch::TensorOptions& options) {
  std::vector<torch::Tensor> blocks;
  for (int64_t rows = 0; rows < m; rows += d) {
    const torch::Tensor gaussian = torch::randn({d, d}, options.dtype(torch::kFloat));
    const auto [q, r] = at::linalg_qr(gaussian);  // q (d, d): columns orthonormal
    // Signs fixed so that diag(r) > 0: only then is q uniformly (Haar) distributed and
    // each row an isotropic direction (otherwise the kernel estimate is biased).
    const torch::Tensor orthogonal = q * torch::sign(torch::diagonal(r)).unsqueeze(0);
    blocks.push_back(orthogonal.t().narrow(0, 0, std::min(d, m - rows)));
  }
  const torch::Tensor directions = torch::cat(blocks, 0);                       // (m, d)
  const torch::Tensor norms = torch::randn({m, d}, options.dtype(torch::kFloat)).norm(2, -1, true);  // (m, 1)
  return (directions * norms).to(options.dtype());
}

// phi(x) for x (B, nh, T, hd) -> (B, nh, T, m), in float32. Queries subtract their own
// max exponent (per query, cancels in num / den). A key's exponent is at most
// max_j |omega_j|^2 / 2 (~hd / 2); keys subtract that bound less 60 when it is positive
// (hd > ~100), so features stay below e^60 (no overflow in the sums) without ever
// depending on other keys (exact causality).
torch::Tensor Features(const torch::Tensor& x, const torch::Tensor& omega, bool is_query) {
  const torch::Tensor xs = x.to(torch::kFloat) * std::pow(static_cast<double>(x.size(3)), -0.25);
  const torch::Tensor w = omega.to(torch::kFloat);                          // (m, hd)
  const torch::Tensor exponent =
      torch::matmul(xs, w.t()) - xs.pow(2).sum(-1, /*keepdim=*/true) / 2;  // (B, nh, T, m)
  const torch::Tensor stab = is_query ? exponent.detach().amax(-1, /*keepdim=*/true)
                                      : (w.pow(2).sum(-1).amax() / 2 - 60).clamp_min(0);
  return torch::exp(exponent - stab) / std::sqrt(static_cast<double>(omega.size(0)));
}

}  // namespace

PerformerAttention::PerformerAttention(const AttentionDims& dims,
                                       const spec::PerformerOptions& options)
    : Attention("PerformerAttention"), dims_(dims), options_(options) {
  omega = register_buffer("omega", OrthogonalFeatures(options.features, dims.head_dim,
                                                      torch::TensorOptions().dtype(torch::kFloat)));
}

void PerformerAttention::Redraw() {
  torch::NoGradGuard no_grad;
  omega.copy_(OrthogonalFeatures(omega.size(0), omega.size(1), omega.options()));
}

torch::Tensor PerformerAttention::forward(const torch::Tensor& q, const torch::Tensor& k,
                                          const torch::Tensor& v) {
  CheckInputs(dims_, q, k, v);
  if (is_training()) {
    if (options_.redraw_interval > 0 && training_calls_ > 0 &&
        training_calls_ % options_.redraw_interval == 0) {
      Redraw();
    }
    ++training_calls_;
  }
  // All in float32 (the key features are far below 1; float16 would underflow).
  const torch::Tensor fq = Features(q, omega, /*is_query=*/true);   // (B, nh, T, m)
  const torch::Tensor fk = Features(k, omega, /*is_query=*/false);  // (B, nh, T, m)
  const double tiny = std::numeric_limits<float>::min();             // a 0 / 0 row gives 0
  if (capture_) {
    const torch::Tensor kernel =
        torch::matmul(fq, fk.transpose(-2, -1)) * CausalVisible(q.size(2), q.device());  // (B, nh, T, T)
    captured_ = {.probs = (kernel / kernel.sum(-1, true).clamp_min(tiny)).to(q.scalar_type()).detach(),
                 .scores = torch::Tensor()};
  }
  const torch::Tensor vf = v.to(torch::kFloat);
  const torch::Tensor ones = torch::ones({v.size(0), v.size(1), v.size(2), 1}, vf.options());
  const torch::Tensor both = CausalPrefixProduct(fq, fk, torch::cat({vf, ones}, -1));  // (B, nh, T, hd+1)
  const int64_t hd = v.size(3);
  return (both.narrow(-1, 0, hd) / both.narrow(-1, hd, 1).clamp_min(tiny)).to(v.scalar_type());
}

std::optional<std::string> PerformerAttention::Unsupported(const torch::Device& device,
                                                           torch::Dtype dtype, int64_t T) const {
  return CommonUnsupported(dims_, device, dtype, T);
}

}  // namespace gwo::attention
