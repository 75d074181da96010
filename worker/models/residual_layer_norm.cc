#include "worker/models/residual_layer_norm.h"

#include <torch/torch.h>

#if GWO_WITH_TRAIN_KERNELS
#include <c10/cuda/CUDAStream.h>

#include "worker/kernels/dtype.h"
#include "worker/kernels/residual_layer_norm.h"
#endif

namespace gwo::models {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

#if GWO_WITH_TRAIN_KERNELS
using kernels::KernelType;

void* Stream(const torch::Tensor& t) {
  return c10::cuda::getCurrentCUDAStream(t.device().index()).stream();
}

// forward(x (N, C) f32, delta (N, C) T, weight (C), bias (C) or undefined (RMSNorm), eps)
// -> {sum f32, normed T}. The delta's dtype T is the normed output's too (the caller
// casts delta to it).
struct FusedResidualLayerNorm : public torch::autograd::Function<FusedResidualLayerNorm> {
  static variable_list forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& delta,
                               const torch::Tensor& weight, const torch::Tensor& bias, double eps) {
    const int64_t N = x.size(0), C = x.size(1);
    const bool rms = !bias.defined();
    const torch::Tensor w = weight.contiguous(), b = rms ? torch::Tensor() : bias.contiguous();
    torch::Tensor sum = torch::empty_like(x), normed = torch::empty_like(delta);
    const auto f32 = x.options().dtype(torch::kFloat);
    torch::Tensor mean = torch::empty({N}, f32), rstd = torch::empty({N}, f32);
    const int error = kernels::ResidualLayerNormForward(
        x.data_ptr<float>(), delta.data_ptr(), w.data_ptr<float>(), rms ? nullptr : b.data_ptr<float>(),
        KernelType(delta.scalar_type()), N, C, static_cast<float>(eps), sum.data_ptr<float>(),
        normed.data_ptr(), mean.data_ptr<float>(), rstd.data_ptr<float>(), Stream(x));
    TORCH_CHECK(error == 0, "residual LayerNorm kernel failed to launch: CUDA error ", error);
    ctx->save_for_backward({sum, mean, rstd, w});
    ctx->saved_data["delta_dtype"] = static_cast<int64_t>(delta.scalar_type());
    ctx->saved_data["rms"] = rms;
    return {sum, normed};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &sum = saved[0], &mean = saved[1], &rstd = saved[2], &w = saved[3];
    const auto dtype = static_cast<torch::Dtype>(ctx->saved_data["delta_dtype"].toInt());
    const bool rms = ctx->saved_data["rms"].toBool();
    const int64_t N = sum.size(0), C = sum.size(1);
    // Gradients of sum (from the residual path) and of normed; either may be absent.
    const torch::Tensor ds_in = grads[0].defined() ? grads[0].to(torch::kFloat).contiguous() : torch::Tensor();
    const torch::Tensor dy = grads[1].defined() ? grads[1].to(dtype).contiguous()
                                                : torch::zeros({N, C}, sum.options().dtype(dtype));
    torch::Tensor ds = torch::empty_like(sum), ddelta = torch::empty({N, C}, sum.options().dtype(dtype));
    const int64_t blocks =
        (N + kernels::kResidualLayerNormRowsPerBlock - 1) / kernels::kResidualLayerNormRowsPerBlock;
    torch::Tensor gamma_partial = torch::empty({blocks, C}, sum.options());
    torch::Tensor beta_partial = rms ? torch::Tensor() : torch::empty({blocks, C}, sum.options());
    const int error = kernels::ResidualLayerNormBackward(
        dy.data_ptr(), ds_in.defined() ? ds_in.data_ptr<float>() : nullptr, sum.data_ptr<float>(),
        mean.data_ptr<float>(), rstd.data_ptr<float>(), w.data_ptr<float>(), KernelType(dtype), N, C,
        ds.data_ptr<float>(), ddelta.data_ptr(), gamma_partial.data_ptr<float>(),
        rms ? nullptr : beta_partial.data_ptr<float>(), Stream(sum));
    TORCH_CHECK(error == 0, "residual LayerNorm backward kernel failed to launch: CUDA error ", error);
    return {ds, ddelta, gamma_partial.sum(0), rms ? torch::Tensor() : beta_partial.sum(0), torch::Tensor()};
  }
};
#endif

}  // namespace

bool FusedResidualLayerNormRuns(const torch::Tensor& x, const torch::Tensor& delta) {
#if GWO_WITH_TRAIN_KERNELS
  return x.is_cuda() && delta.is_cuda() && x.scalar_type() == torch::kFloat &&
         x.size(-1) <= kernels::kResidualLayerNormMaxWidth && x.sizes() == delta.sizes();
#else
  (void)x;
  (void)delta;
  return false;
#endif
}

namespace {

// Both norms through the fused op: bias undefined for RMSNorm.
ResidualNormed Fused(const torch::Tensor& x, const torch::Tensor& delta, const torch::Tensor& weight,
                     const torch::Tensor& bias, double eps, torch::Dtype out) {
#if GWO_WITH_TRAIN_KERNELS
  const int64_t C = x.size(-1);
  const variable_list r = FusedResidualLayerNorm::apply(x.reshape({-1, C}).contiguous(),
                                                        delta.to(out).reshape({-1, C}).contiguous(), weight,
                                                        bias, eps);
  return {r[0].view(x.sizes()), r[1].view(x.sizes())};
#else
  TORCH_CHECK(false, "gwo was built without its CUDA kernels");
  return {};
#endif
}

}  // namespace

ResidualNormed ReferenceResidualLayerNorm(const torch::Tensor& x, const torch::Tensor& delta,
                                          const torch::nn::LayerNorm& ln, torch::Dtype out) {
  const torch::Tensor sum = x + delta;  // float32 + (float32 | compute dtype) -> float32
  return {sum, ln.ptr()->forward(sum).to(out)};
}

ResidualNormed ResidualLayerNorm(const torch::Tensor& x, const torch::Tensor& delta,
                                 const torch::nn::LayerNorm& ln, torch::Dtype out) {
  if (FusedResidualLayerNormRuns(x, delta) && ln->weight.defined() && ln->bias.defined()) {
    return Fused(x, delta, ln->weight, ln->bias, ln->options.eps(), out);
  }
  return ReferenceResidualLayerNorm(x, delta, ln, out);
}

ResidualNormed ReferenceResidualRmsNorm(const torch::Tensor& x, const torch::Tensor& delta,
                                        const torch::Tensor& weight, double eps, torch::Dtype out) {
  const torch::Tensor sum = x + delta;  // (..., C) float32
  // As models/qwen3.cc's RmsNorm (HF's Qwen3RMSNorm) on a float32 input.
  const torch::Tensor normed = weight * (sum * torch::rsqrt(sum.pow(2).mean(-1, /*keepdim=*/true) + eps));
  return {sum, normed.to(out)};
}

ResidualNormed ResidualRmsNorm(const torch::Tensor& x, const torch::Tensor& delta, const torch::Tensor& weight,
                               double eps, torch::Dtype out) {
  if (FusedResidualLayerNormRuns(x, delta)) return Fused(x, delta, weight, torch::Tensor(), eps, out);
  return ReferenceResidualRmsNorm(x, delta, weight, eps, out);
}

}  // namespace gwo::models
