// The pre-norm residual step of GPT-2 (and, with RMSNorm, of Qwen3) as one op: the sublayer's output added to the
// residual stream and the LayerNorm that reads the sum,
//   sum = x + delta;  normed = layer_norm(sum)
// (PyTorch: s = x + delta; y = F.layer_norm(s, (C,), w, b, eps)). On CUDA one kernel
// each way (worker/kernels/residual_layer_norm.h) instead of the add, the norm, the
// cast autocast makes for the next matmul, and their backward passes; elsewhere the
// LibTorch reference.
#ifndef GWO_WORKER_MODELS_RESIDUAL_LAYER_NORM_H_
#define GWO_WORKER_MODELS_RESIDUAL_LAYER_NORM_H_

#include <torch/nn/modules/normalization.h>
#include <torch/types.h>

namespace gwo::models {

struct ResidualNormed {
  torch::Tensor sum;     // (..., C) float32: the residual stream after the add
  torch::Tensor normed;  // (..., C) in the dtype asked for: what the next matmul reads
};

// x (..., C) float32; delta (..., C) float32 or the compute dtype (a sublayer's output
// under autocast); ln: a LayerNorm over C with float32 weight and bias. `out` is the
// dtype of normed (the compute dtype; float32 without autocast). Differentiable in x,
// delta and ln's parameters. Statistics are float32 whatever the dtypes.
ResidualNormed ResidualLayerNorm(const torch::Tensor& x, const torch::Tensor& delta,
                                 const torch::nn::LayerNorm& ln, torch::Dtype out);

// The reference: LibTorch's add and layer_norm, normed cast to `out`.
ResidualNormed ReferenceResidualLayerNorm(const torch::Tensor& x, const torch::Tensor& delta,
                                          const torch::nn::LayerNorm& ln, torch::Dtype out);

// The same with Qwen3's RMSNorm in place of the LayerNorm: normed = weight * sum *
// rsqrt(mean(sum^2) + eps), no bias (models/qwen3.h RmsNorm on a float32 input).
ResidualNormed ResidualRmsNorm(const torch::Tensor& x, const torch::Tensor& delta, const torch::Tensor& weight,
                               double eps, torch::Dtype out);
ResidualNormed ReferenceResidualRmsNorm(const torch::Tensor& x, const torch::Tensor& delta,
                                        const torch::Tensor& weight, double eps, torch::Dtype out);

// The selector ResidualLayerNorm and ResidualRmsNorm dispatch by: whether the CUDA kernels take these
// inputs (a build with them, CUDA tensors, x float32, C <= 8192).
bool FusedResidualLayerNormRuns(const torch::Tensor& x, const torch::Tensor& delta);

}  // namespace gwo::models

#endif  // GWO_WORKER_MODELS_RESIDUAL_LAYER_NORM_H_
