#include "worker/trainer/lm_head_loss.h"

#include <torch/torch.h>

#include <algorithm>

#if GWO_WITH_TRAIN_KERNELS
#include <c10/cuda/CUDAStream.h>

#include "worker/kernels/distill_xent.h"
#include "worker/kernels/dtype.h"
#include "worker/kernels/softmax_xent.h"
#endif

#include "worker/trainer/metric_functions.h"

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

#if GWO_WITH_TRAIN_KERNELS
kernels::LogitType KernelType(const torch::Tensor& t) { return kernels::KernelType(t.scalar_type()); }
#endif

void XentGradInPlace(torch::Tensor& logits, const torch::Tensor& targets, int64_t V,
                     const torch::Tensor& inv_count, torch::Tensor& row_loss) {
#if GWO_WITH_TRAIN_KERNELS
  if (logits.is_cuda()) {
    TORCH_CHECK(logits.is_contiguous() && targets.is_contiguous() && row_loss.is_contiguous());
    const int error = kernels::SoftmaxXentGradInPlace(
        logits.data_ptr(), KernelType(logits), logits.size(0), V, logits.size(1), targets.data_ptr<int64_t>(),
        inv_count.data_ptr<float>(), row_loss.data_ptr<float>(),
        c10::cuda::getCurrentCUDAStream(logits.device().index()).stream());
    TORCH_CHECK(error == 0, "softmax cross-entropy kernel failed to launch: CUDA error ", error);
    return;
  }
#endif
  XentGradInPlaceReference(logits, targets, V, inv_count, row_loss);
}

// The LM head's inputs in the compute dtype: x (N, C) and the weight padded with zero
// rows to Vp = PaddedVocabulary(V), (Vp, C).
struct HeadInputs {
  torch::Tensor x, w;
  int64_t Vp = 0;
};
HeadInputs PrepareHead(const torch::Tensor& hidden, const torch::Tensor& weight, torch::Dtype compute) {
  const int64_t V = weight.size(0);
  HeadInputs in{.x = hidden.to(compute).contiguous(), .w = weight.to(compute), .Vp = PaddedVocabulary(V)};
  if (in.Vp > V) in.w = torch::constant_pad_nd(in.w, {0, 0, 0, in.Vp - V});
  in.w = in.w.contiguous();
  return in;
}

// (1) float32: 1 / the number of counted targets (at least 1), on their device.
torch::Tensor InverseCount(const torch::Tensor& targets) {
  return targets.ge(0).sum().clamp_min(1).to(torch::kFloat).reciprocal().reshape({1});
}

// Rows per chunk: `requested`, or as many (Vp)-wide rows as fit in kChunkBytes; then
// evened out so that the chunks have equal sizes.
int64_t ChunkRows(int64_t N, int64_t Vp, int64_t element_size, int64_t requested) {
  int64_t rows = requested > 0 ? requested : std::max<int64_t>(1, kChunkBytes / (Vp * element_size));
  const int64_t chunks = (N + rows - 1) / rows;
  return chunks > 0 ? (N + chunks - 1) / chunks : 1;
}

// forward(hidden (N, C), weight (V, C), targets (N)) -> () mean loss; the gradients
// are computed in forward and scaled in backward.
struct ChunkedLmHeadXent : public torch::autograd::Function<ChunkedLmHeadXent> {
  // need_grad: false under no_grad (evaluation), where only the loss is computed.
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& hidden,
                               const torch::Tensor& weight, const torch::Tensor& targets,
                               int64_t compute_dtype, int64_t chunk_rows, bool need_grad) {
    const auto compute = static_cast<torch::Dtype>(compute_dtype);
    const int64_t N = hidden.size(0), C = hidden.size(1), V = weight.size(0);
    const HeadInputs in = PrepareHead(hidden, weight, compute);
    const torch::Tensor t = targets.contiguous();                  // (N)
    const torch::Tensor inv_count = InverseCount(t);               // (1)
    torch::Tensor row_loss = torch::empty({N}, hidden.options().dtype(torch::kFloat));
    torch::Tensor dx = need_grad ? torch::empty({N, C}, in.x.options()) : torch::Tensor();  // (N, C)
    const bool need_dw = need_grad && weight.requires_grad();
    torch::Tensor dw;                                              // (V, C) float32
    if (need_dw) dw = torch::zeros({V, C}, weight.options().dtype(torch::kFloat));
    const int64_t rows = ChunkRows(N, in.Vp, in.x.element_size(), chunk_rows);
    for (int64_t start = 0; start < N; start += rows) {
      const int64_t r = std::min(rows, N - start);
      const torch::Tensor x_c = in.x.narrow(0, start, r);          // (r, C)
      torch::Tensor logits = torch::mm(x_c, in.w.t());             // (r, Vp)
      torch::Tensor loss_c = row_loss.narrow(0, start, r);
      XentGradInPlace(logits, t.narrow(0, start, r), V, inv_count, loss_c);  // logits -> dL/dlogits
      if (!need_grad) continue;
      torch::Tensor dx_c = dx.narrow(0, start, r);
      at::mm_out(dx_c, logits, in.w);                              // (r, C) = (r, Vp) @ (Vp, C)
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
    TORCH_CHECK(dx.defined(), "the LM-head loss was computed without gradients (under no_grad)");
    torch::Tensor grad_hidden = (dx * g).to(hidden_dtype);
    torch::Tensor grad_weight = dw.defined() ? (dw * g).to(weight_dtype) : torch::Tensor();
    return {grad_hidden, grad_weight, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

// The distill kernel's contract (distill_xent.h) in LibTorch ops: student (r, ld)
// becomes the cross-entropy's gradient, grad_kl (r, ld) the KL's.
void DistillGradInPlaceReference(torch::Tensor& student, const torch::Tensor& teacher, torch::Tensor& grad_kl,
                                 const torch::Tensor& targets, int64_t V, const torch::Tensor& inv_count,
                                 double inv_rows, double tau, torch::Tensor& row_ce, torch::Tensor& row_kl) {
  const torch::Tensor z = student.narrow(1, 0, V).to(torch::kFloat);   // (r, V)
  const torch::Tensor zt = teacher.narrow(1, 0, V).to(torch::kFloat);  // (r, V)
  const torch::Tensor log_p = torch::log_softmax(z / tau, 1), log_q = torch::log_softmax(zt / tau, 1);
  const torch::Tensor q = log_q.exp();
  row_kl.copy_((q * (log_q - log_p)).sum(1) * (tau * tau));
  const torch::Tensor g_kl = (log_p.exp() - q) * (tau * inv_rows);    // (r, V)
  grad_kl.zero_();
  grad_kl.narrow(1, 0, V).copy_(g_kl);
  XentGradInPlaceReference(student, targets, V, inv_count, row_ce);
}

void DistillGradInPlace(torch::Tensor& student, const torch::Tensor& teacher, torch::Tensor& grad_kl,
                        const torch::Tensor& targets, int64_t V, const torch::Tensor& inv_count,
                        double inv_rows, double tau, torch::Tensor& row_ce, torch::Tensor& row_kl) {
#if GWO_WITH_TRAIN_KERNELS
  if (student.is_cuda()) {
    TORCH_CHECK(student.is_contiguous() && grad_kl.is_contiguous() && teacher.stride(1) == 1 &&
                teacher.scalar_type() == student.scalar_type());
    const int error = kernels::DistillXentGradInPlace(
        student.data_ptr(), teacher.data_ptr(), grad_kl.data_ptr(), KernelType(student), student.size(0), V,
        student.size(1), teacher.stride(0), targets.data_ptr<int64_t>(), inv_count.data_ptr<float>(),
        static_cast<float>(inv_rows), static_cast<float>(tau), row_ce.data_ptr<float>(),
        row_kl.data_ptr<float>(), c10::cuda::getCurrentCUDAStream(student.device().index()).stream());
    TORCH_CHECK(error == 0, "distillation kernel failed to launch: CUDA error ", error);
    return;
  }
#endif
  DistillGradInPlaceReference(student, teacher, grad_kl, targets, V, inv_count, inv_rows, tau, row_ce, row_kl);
}

// forward(hidden (N, C), weight (V, C), targets (N), teacher (N, V)) -> {lm, kl}; the
// gradients of both are computed in forward and combined in backward.
struct ChunkedDistillXent : public torch::autograd::Function<ChunkedDistillXent> {
  static variable_list forward(AutogradContext* ctx, const torch::Tensor& hidden, const torch::Tensor& weight,
                               const torch::Tensor& targets, const torch::Tensor& teacher, double temperature,
                               int64_t compute_dtype, int64_t chunk_rows) {
    const auto compute = static_cast<torch::Dtype>(compute_dtype);
    const int64_t N = hidden.size(0), C = hidden.size(1), V = weight.size(0);
    const HeadInputs in = PrepareHead(hidden, weight, compute);
    const torch::Tensor t = targets.contiguous();
    const torch::Tensor teacher_c = teacher.to(compute).contiguous();          // (N, V)
    const torch::Tensor inv_count = InverseCount(t);
    const double inv_rows = 1.0 / static_cast<double>(std::max<int64_t>(N, 1));
    const auto f32 = hidden.options().dtype(torch::kFloat);
    torch::Tensor row_ce = torch::empty({N}, f32), row_kl = torch::empty({N}, f32);
    torch::Tensor dx_lm = torch::empty({N, C}, in.x.options()), dx_kl = torch::empty({N, C}, in.x.options());
    const bool need_dw = weight.requires_grad();
    torch::Tensor dw_lm, dw_kl;
    if (need_dw) {
      dw_lm = torch::zeros({V, C}, weight.options().dtype(torch::kFloat));
      dw_kl = torch::zeros({V, C}, weight.options().dtype(torch::kFloat));
    }
    const int64_t rows = ChunkRows(N, in.Vp, in.x.element_size(), chunk_rows);
    for (int64_t start = 0; start < N; start += rows) {
      const int64_t r = std::min(rows, N - start);
      const torch::Tensor x_c = in.x.narrow(0, start, r);                     // (r, C)
      torch::Tensor logits = torch::mm(x_c, in.w.t());                        // (r, Vp)
      torch::Tensor grad_kl = torch::empty_like(logits);                      // (r, Vp)
      torch::Tensor ce_c = row_ce.narrow(0, start, r), kl_c = row_kl.narrow(0, start, r);
      DistillGradInPlace(logits, teacher_c.narrow(0, start, r), grad_kl, t.narrow(0, start, r), V, inv_count,
                         inv_rows, temperature, ce_c, kl_c);
      torch::Tensor dx_lm_c = dx_lm.narrow(0, start, r), dx_kl_c = dx_kl.narrow(0, start, r);
      at::mm_out(dx_lm_c, logits, in.w);                                      // (r, C)
      at::mm_out(dx_kl_c, grad_kl, in.w);
      if (need_dw) {
        dw_lm.add_(torch::mm(logits.narrow(1, 0, V).t(), x_c));               // (V, C)
        dw_kl.add_(torch::mm(grad_kl.narrow(1, 0, V).t(), x_c));
      }
    }
    ctx->saved_data["dx_lm"] = dx_lm;
    ctx->saved_data["dx_kl"] = dx_kl;
    ctx->saved_data["dw_lm"] = dw_lm;
    ctx->saved_data["dw_kl"] = dw_kl;
    ctx->saved_data["hidden_dtype"] = static_cast<int64_t>(hidden.scalar_type());
    ctx->saved_data["weight_dtype"] = static_cast<int64_t>(weight.scalar_type());
    return {row_ce.sum() * inv_count.squeeze(0), row_kl.sum() * inv_rows};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto hidden_dtype = static_cast<torch::Dtype>(ctx->saved_data["hidden_dtype"].toInt());
    const auto weight_dtype = static_cast<torch::Dtype>(ctx->saved_data["weight_dtype"].toInt());
    // grad * saved, summed over the outputs that received a gradient.
    auto combine = [&](const char* lm_key, const char* kl_key) {
      torch::Tensor sum;
      for (const auto& [key, g] : {std::pair(lm_key, grad_outputs[0]), std::pair(kl_key, grad_outputs[1])}) {
        const torch::Tensor saved = ctx->saved_data[key].toTensor();
        if (!g.defined() || !saved.defined()) continue;
        const torch::Tensor term = saved * g;
        sum = sum.defined() ? sum + term : term;
      }
      return sum;
    };
    torch::Tensor grad_hidden = combine("dx_lm", "dx_kl");
    torch::Tensor grad_weight = combine("dw_lm", "dw_kl");
    if (grad_hidden.defined()) grad_hidden = grad_hidden.to(hidden_dtype);
    if (grad_weight.defined()) grad_weight = grad_weight.to(weight_dtype);
    return {grad_hidden, grad_weight, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor(),
            torch::Tensor()};
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
  const bool need_grad =
      torch::GradMode::is_enabled() && (hidden.requires_grad() || weight.requires_grad());
  return ChunkedLmHeadXent::apply(hidden.reshape({-1, C}), weight, targets.reshape({-1}),
                                  static_cast<int64_t>(compute), chunk_rows, need_grad);
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

std::pair<torch::Tensor, torch::Tensor> DistillLmHeadLoss(const torch::Tensor& hidden,
                                                          const torch::Tensor& weight,
                                                          const torch::Tensor& targets,
                                                          const torch::Tensor& teacher_logits,
                                                          double temperature, torch::Dtype compute,
                                                          int64_t chunk_rows) {
  const int64_t C = hidden.size(-1), V = weight.size(0);
  TORCH_CHECK(teacher_logits.size(-1) == V && teacher_logits.numel() == targets.numel() * V,
              "teacher logits ", teacher_logits.sizes(), " do not match ", targets.numel(), " positions of ",
              V, " tokens");
  const variable_list out = ChunkedDistillXent::apply(hidden.reshape({-1, C}), weight, targets.reshape({-1}),
                                                      teacher_logits.detach().reshape({-1, V}), temperature,
                                                      static_cast<int64_t>(compute), chunk_rows);
  return {out[0], out[1]};
}

std::pair<torch::Tensor, torch::Tensor> ReferenceDistillLmHeadLoss(
    const torch::Tensor& hidden, const torch::Tensor& weight, const torch::Tensor& targets,
    const torch::Tensor& teacher_logits, double temperature, torch::Dtype compute) {
  const int64_t C = hidden.size(-1);
  const torch::Tensor logits =
      torch::linear(hidden.reshape({-1, C}).to(compute), weight.to(compute)).to(torch::kFloat);  // (N, V)
  const torch::Tensor kl = DistillationLoss(
      logits, teacher_logits.reshape({-1, weight.size(0)}).to(torch::kFloat), temperature);
  return {ReferenceLmHeadLoss(hidden, weight, targets, compute), kl};
}

torch::Tensor LmHeadLoss(const torch::Tensor& hidden, const torch::Tensor& weight,
                         const torch::Tensor& targets, torch::Dtype compute) {
  if (hidden.is_cuda()) return ChunkedLmHeadLoss(hidden, weight, targets, compute);
  return ReferenceLmHeadLoss(hidden, weight, targets, compute);
}

}  // namespace gwo::trainer
