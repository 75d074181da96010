// Native Sparse Attention. l = block, d = stride, n = selected_blocks, w = window.
//
// Compressed branch: block i covers keys [i d, i d + l), nc = (T - l) / d + 1 of them.
//   kc_i = compress_k(k[i d : i d + l] flattened)   (B, nh, nc, hd), same for vc_i
//   pc(t, i) = softmax_i(q_t . kc_i / sqrt(hd)) over complete blocks i d + l - 1 <= t
//   o_cmp_t = sum_i pc(t, i) vc_i                    (B, nh, T, hd); 0 when none complete
// Selected branch: keys cut into nb = ceil(T / l) blocks; block j's importance for t is
//   sum of pc(t, i) over compressed blocks starting in j; t's own block always counts
//   as most important; the top n blocks with j <= t / l are kept, and
//   o_sel_t = softmax attention over the kept blocks' keys s <= t.
// Window branch: o_win_t = softmax attention over keys t - w < s <= t.
// Gates: g = sigmoid(gate(q_t)), (B, nh, T, 3); out = g0 o_cmp + g1 o_sel + g2 o_win.
//
// compress_k/v start as mean pooling over the block. With n >= nb and w >= T, o_sel
// and o_win are standard attention (the dense form). Selection is not differentiable
// (as in the paper); gradients reach compress_k through o_cmp. Dense O(T^2) reference.
#include "worker/attention/nsa.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "worker/attention/common.h"

namespace gwo::attention {

using torch::indexing::Slice;

NsaAttention::NsaAttention(const AttentionDims& dims, const spec::NsaOptions& options)
    : Attention("NsaAttention"), dims_(dims), options_(options) {
  const int64_t hd = dims.head_dim, l = options.block;
  compress_k = register_module("compress_k", torch::nn::Linear(l * hd, hd));
  compress_v = register_module("compress_v", torch::nn::Linear(l * hd, hd));
  gate = register_module("gate", torch::nn::Linear(hd, 3));
  torch::NoGradGuard no_grad;
  // Mean pooling: weight = [I/l, I/l, ...] (hd, l*hd), bias 0.
  const torch::Tensor pool = torch::eye(hd).repeat({1, l}) / static_cast<double>(l);
  for (auto* linear : {&compress_k, &compress_v}) {
    (*linear)->weight.copy_(pool);
    (*linear)->bias.zero_();
  }
}

NsaBranches NsaAttention::Branches(const torch::Tensor& q, const torch::Tensor& k,
                                   const torch::Tensor& v, bool with_probs) {
  const int64_t B = q.size(0), H = q.size(1), T = q.size(2), hd = q.size(3);
  const int64_t l = options_.block, d = options_.stride;
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  const double dropout = dims_.dropout;
  const bool training = is_training();
  const auto long_opts = torch::TensorOptions().dtype(torch::kLong).device(q.device());
  const torch::Tensor t_pos = torch::arange(T, long_opts).unsqueeze(1);  // (T, 1)
  NsaBranches out;

  // Compressed branch.
  const int64_t nc = T >= l ? (T - l) / d + 1 : 0;
  torch::Tensor pc;  // (B, H, T, nc)
  if (nc > 0) {
    auto blocks = [&](const torch::Tensor& x) {  // (B, H, T, hd) -> (B, H, nc, l*hd)
      return x.unfold(2, l, d).transpose(-2, -1).reshape({B, H, nc, l * hd});
    };
    const torch::Tensor kc = compress_k(blocks(k)), vc = compress_v(blocks(v));  // (B, H, nc, hd)
    const torch::Tensor ends = torch::arange(nc, long_opts).unsqueeze(0) * d + (l - 1);  // (1, nc)
    pc = MaskedSoftmax(torch::matmul(q, kc.transpose(-2, -1)) * scale, ends <= t_pos);  // (B, H, T, nc)
    out.compressed = torch::matmul(torch::dropout(pc, dropout, training), vc);         // (B, H, T, hd)
  } else {
    out.compressed = torch::zeros_like(q);
  }

  // Selected branch: block importance from the compressed probabilities.
  const int64_t nb = (T + l - 1) / l;
  const torch::Tensor own = torch::div(t_pos, l, "floor");  // (T, 1)
  const torch::Tensor j = torch::arange(nb, long_opts).unsqueeze(0);  // (1, nb)
  torch::Tensor importance = torch::zeros({B, H, T, nb}, q.options());
  if (nc > 0) {
    const torch::Tensor start_block = torch::div(torch::arange(nc, long_opts) * d, l, "floor");  // (nc)
    const torch::Tensor to_block = torch::one_hot(start_block, nb).to(q.scalar_type());          // (nc, nb)
    importance = torch::matmul(pc.detach(), to_block);                                          // (B, H, T, nb)
  }
  importance = importance.masked_fill(j == own, std::numeric_limits<float>::infinity())
                   .masked_fill(j > own, -std::numeric_limits<float>::infinity());
  const int64_t n = std::min<int64_t>(options_.selected_blocks, nb);
  const torch::Tensor top = std::get<1>(importance.topk(n, -1));  // (B, H, T, n)
  const torch::Tensor chosen =
      torch::zeros({B, H, T, nb}, long_opts.dtype(torch::kBool)).scatter(-1, top, true) & (j <= own);
  const torch::Tensor causal = CausalVisible(T, q.device());
  const torch::Tensor sel_visible =
      chosen.repeat_interleave(l, -1).index({Slice(), Slice(), Slice(), Slice(0, T)}) & causal;  // (B, H, T, T)
  AttentionCapture sel_capture, win_capture;
  out.selected = MaskedAttention(q, k, v, sel_visible, scale, dropout, training,
                                 with_probs ? &sel_capture : nullptr);

  // Window branch.
  out.window = MaskedAttention(q, k, v, WindowVisible(T, options_.window, 0, q.device()), scale,
                               dropout, training, with_probs ? &win_capture : nullptr);
  out.gates = torch::sigmoid(gate(q));  // (B, H, T, 3)

  if (with_probs) {
    const torch::Tensor g = out.gates.detach();
    torch::Tensor mixed = g.narrow(-1, 1, 1) * sel_capture.probs + g.narrow(-1, 2, 1) * win_capture.probs;
    torch::Tensor total = g.narrow(-1, 1, 1) + g.narrow(-1, 2, 1);  // (B, H, T, 1)
    if (nc > 0) {
      // Spread pc(t, i) evenly over the keys of compressed block i.
      const torch::Tensor s = torch::arange(T, long_opts).unsqueeze(0);                   // (1, T)
      const torch::Tensor first = torch::arange(nc, long_opts).unsqueeze(1) * d;          // (nc, 1)
      const torch::Tensor member = ((s >= first) & (s < first + l)).to(q.scalar_type()) / l;  // (nc, T)
      const torch::Tensor pc_d = pc.detach();
      mixed = mixed + g.narrow(-1, 0, 1) * torch::matmul(pc_d, member);
      total = total + g.narrow(-1, 0, 1) * pc_d.sum(-1, /*keepdim=*/true);  // 0 before the first block
    }
    out.probs = mixed / total;
  }
  return out;
}

torch::Tensor NsaAttention::forward(const torch::Tensor& q, const torch::Tensor& k,
                                    const torch::Tensor& v) {
  CheckInputs(dims_, q, k, v);
  const NsaBranches b = Branches(q, k, v, /*with_probs=*/capture_);
  if (capture_) captured_ = {.probs = b.probs, .scores = torch::Tensor()};
  return b.gates.narrow(-1, 0, 1) * b.compressed + b.gates.narrow(-1, 1, 1) * b.selected +
         b.gates.narrow(-1, 2, 1) * b.window;  // (B, nh, T, hd)
}

std::optional<std::string> NsaAttention::Unsupported(const torch::Device& device, torch::Dtype dtype,
                                                     int64_t T) const {
  if (options_.block > dims_.block_size) {
    return absl::StrCat("attention.block (", options_.block, ") exceeds the model's block_size (",
                        dims_.block_size, "): no compressed block would ever be complete");
  }
  if (options_.stride > options_.block) {
    return absl::StrCat("attention.stride (", options_.stride, ") exceeds attention.block (",
                        options_.block, "): compressed blocks would skip keys");
  }
  return CommonUnsupported(dims_, device, dtype, T);
}

}  // namespace gwo::attention
