#include "worker/trainer/optimizer_step.h"

#include <torch/torch.h>
#include <torch/version.h>

#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <type_traits>

// `_fused_adamw_` with a tensor learning rate (graph-safe) and `_foreach_mul_` by a
// tensor: LibTorch >= 2.4 with CUDA. Debian's 1.13 (CPU) takes the reference path.
#if GWO_WITH_CUDA && (TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4))
#define GWO_FUSED_ADAMW 1
#endif

namespace gwo::trainer {
namespace {

// The key torch::optim::AdamW files a parameter's state under: the TensorImpl
// address, as a pointer (LibTorch 2) or its string form (1.13).
template <typename Key>
Key StateKey(const torch::Tensor& p) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream out;
    out << static_cast<const void*>(p.unsafeGetTensorImpl());
    return out.str();
  } else {
    return p.unsafeGetTensorImpl();
  }
}

torch::optim::AdamWParamState& StateOf(torch::optim::AdamW& optimizer, const torch::Tensor& p) {
  auto& state = optimizer.state();
  using Key = typename std::decay_t<decltype(state)>::key_type;
  const Key key = StateKey<Key>(p);
  auto it = state.find(key);
  if (it == state.end()) {
    // What AdamW::step creates on a parameter's first update.
    auto fresh = std::make_unique<torch::optim::AdamWParamState>();
    fresh->step(0);
    fresh->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
    fresh->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
    it = state.emplace(key, std::move(fresh)).first;
  }
  return static_cast<torch::optim::AdamWParamState&>(*it->second);
}

std::vector<torch::Tensor> DefinedGradients(const std::vector<torch::Tensor>& params) {
  std::vector<torch::Tensor> grads;
  for (const torch::Tensor& p : params) {
    if (p.grad().defined()) grads.push_back(p.grad());
  }
  return grads;
}

}  // namespace

void ZeroGradients(const std::vector<torch::Tensor>& params) {
  for (const torch::Tensor& g : DefinedGradients(params)) g.zero_();
}

torch::Tensor ClipGradients(const std::vector<torch::Tensor>& params, double max_norm) {
  const std::vector<torch::Tensor> grads = DefinedGradients(params);
  if (grads.empty()) return torch::zeros({});
  std::vector<torch::Tensor> norms;
#ifdef GWO_FUSED_ADAMW
  if (grads[0].is_cuda()) norms = at::_foreach_norm(grads, 2);
#endif
  if (norms.empty()) {
    for (const torch::Tensor& g : grads) norms.push_back(g.norm());
  }
  const torch::Tensor total = torch::stack(norms).to(torch::kFloat).norm();  // ()
  const torch::Tensor coef = (max_norm / (total + 1e-6)).clamp_max(1.0);    // ()
#ifdef GWO_FUSED_ADAMW
  if (grads[0].is_cuda()) {
    at::_foreach_mul_(grads, coef);
    return total;
  }
#endif
  for (const torch::Tensor& g : grads) g.mul_(coef);
  return total;
}

AdamWUpdate::AdamWUpdate(torch::optim::AdamW* optimizer) : optimizer_(optimizer) {
#ifdef GWO_FUSED_ADAMW
  bool all_cuda_f32 = true, any = false;
  for (const auto& group : optimizer_->param_groups()) {
    for (const torch::Tensor& p : group.params()) {
      any = true;
      all_cuda_f32 = all_cuda_f32 && p.is_cuda() && p.scalar_type() == torch::kFloat;
    }
  }
  fused_ = any && all_cuda_f32;
#endif
}

void AdamWUpdate::InitFusedState() {
  initialised_ = true;
  const auto& groups = optimizer_->param_groups();
  lr_.clear();
  steps_.assign(groups.size(), {});
  for (size_t g = 0; g < groups.size(); ++g) {
    const auto& params = groups[g].params();
    const auto device = params.empty() ? torch::Device(torch::kCUDA) : params[0].device();
    const auto f32 = torch::TensorOptions().dtype(torch::kFloat).device(device);
    lr_.push_back(torch::zeros({}, f32));
    for (const torch::Tensor& p : params) {
      steps_[g].push_back(torch::full({}, static_cast<double>(StateOf(*optimizer_, p).step()), f32));
    }
  }
  LoadLearningRates();
}

void AdamWUpdate::LoadLearningRates() {
  if (!fused_) return;
  if (!initialised_) {
    InitFusedState();
    return;
  }
  const auto& groups = optimizer_->param_groups();
  for (size_t g = 0; g < groups.size(); ++g) {
    lr_[g].fill_(static_cast<const torch::optim::AdamWOptions&>(groups[g].options()).lr());
  }
}

void AdamWUpdate::Step(const torch::Tensor& found_inf) {
  if (!fused_) {
    if (found_inf.defined() && found_inf.item<float>() != 0.0f) return;  // skipped step
    optimizer_->step();
    return;
  }
#ifdef GWO_FUSED_ADAMW
  if (!initialised_) InitFusedState();
  const auto& groups = optimizer_->param_groups();
  for (size_t g = 0; g < groups.size(); ++g) {
    const auto& options = static_cast<const torch::optim::AdamWOptions&>(groups[g].options());
    std::vector<torch::Tensor> params, grads, exp_avgs, exp_avg_sqs, steps;
    const auto& group_params = groups[g].params();
    for (size_t i = 0; i < group_params.size(); ++i) {
      const torch::Tensor& p = group_params[i];
      if (!p.grad().defined()) continue;
      torch::optim::AdamWParamState& state = StateOf(*optimizer_, p);
      params.push_back(p);
      grads.push_back(p.grad());
      exp_avgs.push_back(state.exp_avg());
      exp_avg_sqs.push_back(state.exp_avg_sq());
      steps.push_back(steps_[g][i]);
    }
    if (params.empty()) continue;
    at::_foreach_add_(steps, 1);
    const auto [beta1, beta2] = options.betas();
    std::optional<torch::Tensor> inf;
    if (found_inf.defined()) inf = found_inf;
    // Under no_grad: the update must not be recorded by autograd.
    torch::NoGradGuard no_grad;
    at::_fused_adamw_(params, grads, exp_avgs, exp_avg_sqs, /*max_exp_avg_sqs=*/{}, steps, lr_[g],
                      beta1, beta2, options.weight_decay(), options.eps(), /*amsgrad=*/false,
                      /*maximize=*/false, /*grad_scale=*/std::nullopt, inf);
    // A skipped step does not count (as PyTorch's fused AdamW).
    if (found_inf.defined()) {
      const torch::Tensor skipped = found_inf.reshape({});
      for (torch::Tensor& s : steps) s.sub_(skipped);
    }
  }
#endif
}

void AdamWUpdate::SyncState() {
  if (!fused_ || !initialised_) return;
  const auto& groups = optimizer_->param_groups();
  for (size_t g = 0; g < groups.size(); ++g) {
    const auto& params = groups[g].params();
    if (params.empty()) continue;
    const torch::Tensor host = torch::stack(steps_[g]).cpu();
    for (size_t i = 0; i < params.size(); ++i) {
      StateOf(*optimizer_, params[i]).step(static_cast<int64_t>(host[i].item<float>()));
    }
  }
}

}  // namespace gwo::trainer
