#include "worker/trainer/lm_head_loss.h"

#include <torch/torch.h>

#include <algorithm>

#if GWO_WITH_TRAIN_KERNELS
#include <c10/cuda/CUDAStream.h>

#include "worker/kernels/softmax_xent.h"
#endif

namespace gwo::trainer {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

constexpr int64_t kChunkBytes = int64_t{256} << 20;

// The kernel's contract (softmax_xent.h) in LibTorch ops: logits (r, ld) become their
// gradient, row_loss (r) the per-row losses.
void XentGradInPlaceReference(torch::Tensor& logits, const torch::Tensor& targets, int64_t V,
                              const torch::Tensor& inv_count, torch::Tensor& row_loss) {
  const torch::Tensor z = logits.narrow(1, 0, V).to(torch::kFloat);     // (r, V)
  const torch::Tensor counted = targets.ge(0).logical_and(targets.lt(V));  // (r)
  const torch::Tensor t = targets.clamp(0, V - 1).unsqueeze(1);          // (r, 1)
  const torch::Tensor lse = z.logsumexp(1);                              // (r)
  row_loss.copy_((lse - z.gather(1, t).squeeze(1)) * counted);
  torch::Tensor grad = torch::softmax(z, 1).scatter_add(1, t, -torch::ones_like(t, z.options()));
  grad = grad * (counted.to(torch::kFloat) * inv_count).unsqueeze(1);    // (r, V)
  logits.zero_();
  logits.narrow(1, 0, V).copy_(grad);
}

void XentGradInPlace(torch::Tensor& logits, const torch::Tensor& targets, int64_t V,
                     const torch::Tensor& inv_count, torch::Tensor& row_loss) {
#if GWO_WITH_TRAIN_KERNELS
  if (logits.is_cuda()) {
    const auto type = logits.scalar_type() == torch::kBFloat16 ? kernels::LogitType::kBFloat16
                      : logits.scalar_type() == torch::kHalf   ? kernels::LogitType::kFloat16
                                                               : kernels::LogitType::kFloat32;
    TORCH_CHECK(logits.is_contiguous() && targets.is_contiguous() && row_loss.is_contiguous());
    const int error = kernels::SoftmaxXentGradInPlace(
        logits.data_ptr(), type, logits.size(0), V, logits.size(1), targets.data_ptr<int64_t>(),
        inv_count.data_ptr<float>(), row_loss.data_ptr<float>(),
        c10::cuda::getCurrentCUDAStream(logits.device().index()).stream());
    TORCH_CHECK(error == 0, "softmax cross-entropy kernel failed to launch: CUDA error ", error);
    return;
  }
#endif
  XentGradInPlaceReference(logits, targets, V, inv_count, row_loss);
}

// forward(hidden (N, C), weight (V, C), targets (N)) -> () mean loss; the gradients
// are computed in forward and scaled in backward.
struct ChunkedLmHeadXent : public torch::autograd::Function<ChunkedLmHeadXent> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& hidden,
                               const torch::Tensor& weight, const torch::Tensor& targets,
                               int64_t compute_dtype, int64_t chunk_rows) {
    const auto compute = static_cast<torch::Dtype>(compute_dtype);
    const int64_t N = hidden.size(0), C = hidden.size(1), V = weight.size(0);
    const int64_t Vp = PaddedVocabulary(V);
    const torch::Tensor x = hidden.to(compute).contiguous();  // (N, C)
    torch::Tensor w = weight.to(compute);                     // (V, C)
    if (Vp > V) w = torch::constant_pad_nd(w, {0, 0, 0, Vp - V});  // (Vp, C), zero rows
    w = w.contiguous();
    const torch::Tensor t = targets.contiguous();                  // (N)
    const torch::Tensor count = t.ge(0).sum().clamp_min(1);        // () int64
    const torch::Tensor inv_count = count.to(torch::kFloat).reciprocal().reshape({1});  // (1)
    torch::Tensor row_loss = torch::empty({N}, hidden.options().dtype(torch::kFloat));
    torch::Tensor dx = torch::empty({N, C}, x.options());          // (N, C)
    const bool need_dw = weight.requires_grad();
    torch::Tensor dw;                                              // (V, C) float32
    if (need_dw) dw = torch::zeros({V, C}, weight.options().dtype(torch::kFloat));

    int64_t rows = chunk_rows;
    if (rows <= 0) rows = std::max<int64_t>(1, kChunkBytes / (Vp * x.element_size()));
    const int64_t chunks = (N + rows - 1) / std::max<int64_t>(rows, 1);
    rows = chunks > 0 ? (N + chunks - 1) / chunks : 0;  // equal chunks
    for (int64_t start = 0; start < N; start += rows) {
      const int64_t r = std::min(rows, N - start);
      const torch::Tensor x_c = x.narrow(0, start, r);             // (r, C)
      torch::Tensor logits = torch::mm(x_c, w.t());                // (r, Vp)
      torch::Tensor loss_c = row_loss.narrow(0, start, r);
      XentGradInPlace(logits, t.narrow(0, start, r), V, inv_count, loss_c);  // logits -> dL/dlogits
      torch::Tensor dx_c = dx.narrow(0, start, r);
      at::mm_out(dx_c, logits, w);                                 // (r, C) = (r, Vp) @ (Vp, C)
      if (need_dw) dw.add_(torch::mm(logits.narrow(1, 0, V).t(), x_c));  // (V, C)
    }
    ctx->saved_data["dx"] = dx;
    ctx->saved_data["dw"] = dw;
    ctx->saved_data["hidden_dtype"] = static_cast<int64_t>(hidden.scalar_type());
    ctx->saved_data["weight_dtype"] = static_cast<int64_t>(weight.scalar_type());
    return (row_loss.sum() * inv_count.squeeze(0));  // ()
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const torch::Tensor& g = grad_outputs[0];  // ()
    const torch::Tensor dx = ctx->saved_data["dx"].toTensor();
    const torch::Tensor dw = ctx->saved_data["dw"].toTensor();
    const auto hidden_dtype = static_cast<torch::Dtype>(ctx->saved_data["hidden_dtype"].toInt());
    const auto weight_dtype = static_cast<torch::Dtype>(ctx->saved_data["weight_dtype"].toInt());
    torch::Tensor grad_hidden = (dx * g).to(hidden_dtype);
    torch::Tensor grad_weight = dw.defined() ? (dw * g).to(weight_dtype) : torch::Tensor();
    return {grad_hidden, grad_weight, torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

int64_t PaddedVocabulary(int64_t V) { return (V + 127) / 128 * 128; }

torch::Tensor ChunkedLmHeadLoss(const torch::Tensor& hidden, const torch::Tensor& weight,
                                const torch::Tensor& targets, torch::Dtype compute,
                                int64_t chunk_rows) {
  const int64_t C = hidden.size(-1);
  TORCH_CHECK(weight.dim() == 2 && weight.size(1) == C, "LM head weight ", weight.sizes(),
              " does not match hidden states of width ", C);
  TORCH_CHECK(targets.numel() * C == hidden.numel(), "targets ", targets.sizes(),
              " do not match hidden states ", hidden.sizes());
  return ChunkedLmHeadXent::apply(hidden.reshape({-1, C}), weight, targets.reshape({-1}),
                                  static_cast<int64_t>(compute), chunk_rows);
}

torch::Tensor ReferenceLmHeadLoss(const torch::Tensor& hidden, const torch::Tensor& weight,
                                  const torch::Tensor& targets, torch::Dtype compute) {
  const int64_t C = hidden.size(-1);
  const torch::Tensor logits =
      torch::linear(hidden.reshape({-1, C}).to(compute), weight.to(compute)).to(torch::kFloat);  // (N, V)
  const torch::Tensor t = targets.reshape({-1}).masked_fill(targets.reshape({-1}).lt(0), -100);
  const torch::Tensor sum = torch::nn::functional::cross_entropy(
      logits, t, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum).ignore_index(-100));
  return sum / t.ge(0).sum().clamp_min(1).to(torch::kFloat);
}

torch::Tensor LmHeadLoss(const torch::Tensor& hidden, const torch::Tensor& weight,
                         const torch::Tensor& targets, torch::Dtype compute) {
  if (hidden.is_cuda()) return ChunkedLmHeadLoss(hidden, weight, targets, compute);
  return ReferenceLmHeadLoss(hidden, weight, targets, compute);
}

}  // namespace gwo::trainer
