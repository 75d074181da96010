#include "worker/trainer/precision.h"

#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "worker/models/autocast_state.h"

namespace gwo::trainer {

using models::AutocastDtype;
using models::AutocastEnabled;
using models::SetAutocastDtype;
using models::SetAutocastEnabled;

std::string_view PrecisionName(Precision p) {
  switch (p) {
    case Precision::kFp32: return "fp32";
    case Precision::kTf32: return "tf32";
    case Precision::kBf16: return "bf16";
    case Precision::kFp16: return "fp16";
  }
  return "fp32";
}

absl::StatusOr<Precision> ResolvePrecision(const std::string& name, const torch::Device& device) {
  const bool cuda = device.is_cuda();
  if (name == "auto") return cuda ? Precision::kBf16 : Precision::kFp32;
  if (name == "fp32") return Precision::kFp32;
  if (name == "bf16") return Precision::kBf16;
  if (name == "tf32" || name == "fp16") {
    if (!cuda) {
      return absl::InvalidArgumentError(absl::StrCat(
          "training.precision ", name, " needs a CUDA device (this run is on ", device.str(),
          "); use fp32 or bf16, or auto"));
    }
    return name == "tf32" ? Precision::kTf32 : Precision::kFp16;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown training.precision '", name, "' (auto, bf16, fp16, tf32, fp32)"));
}

torch::Dtype ComputeDtype(Precision p) {
  switch (p) {
    case Precision::kBf16: return torch::kBFloat16;
    case Precision::kFp16: return torch::kHalf;
    default: return torch::kFloat;
  }
}

void ConfigureMatmul(Precision p) {
  const bool tf32 = p != Precision::kFp32;
  at::globalContext().setAllowTF32CuBLAS(tf32);
  at::globalContext().setAllowTF32CuDNN(tf32);
}

AutocastScope::AutocastScope(Precision p, const torch::Device& device, bool cache) {
  if (p != Precision::kBf16 && p != Precision::kFp16) return;
  active_ = true;
  cuda_ = device.is_cuda();
  previous_enabled_ = AutocastEnabled(cuda_);
  previous_dtype_ = AutocastDtype(cuda_);
  previous_cache_ = at::autocast::is_autocast_cache_enabled();
  SetAutocastEnabled(cuda_, true);
  SetAutocastDtype(cuda_, ComputeDtype(p));
  at::autocast::set_autocast_cache_enabled(cache);
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (!active_) return;
  // As torch.autocast's __exit__: the outermost scope drops the cached casts.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  SetAutocastEnabled(cuda_, previous_enabled_);
  SetAutocastDtype(cuda_, previous_dtype_);
  at::autocast::set_autocast_cache_enabled(previous_cache_);
}

LossScaler::LossScaler(Precision p, const torch::Device& device, double init_scale,
                       int64_t growth_interval)
    : active_(p == Precision::kFp16), growth_interval_(growth_interval) {
  if (!active_) return;
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat).device(device);
  scale_ = torch::full({1}, init_scale, f32);
  growth_tracker_ = torch::zeros({1}, f32.dtype(torch::kInt));
  found_inf_ = torch::zeros({1}, f32);
}

torch::Tensor LossScaler::Scale(const torch::Tensor& loss) const {
  return active_ ? loss * scale_ : loss;
}

void LossScaler::Unscale(const std::vector<torch::Tensor>& grads) {
  if (!active_) return;
  found_inf_.zero_();
  std::vector<torch::Tensor> defined;
  for (const torch::Tensor& g : grads) {
    if (g.defined()) defined.push_back(g);
  }
  const torch::Tensor inv_scale = scale_.to(torch::kDouble).reciprocal().to(torch::kFloat);
  at::_amp_foreach_non_finite_check_and_unscale_(defined, found_inf_, inv_scale);
}

std::pair<double, int64_t> LossScaler::State() const {
  if (!active_) return {0.0, 0};
  return {scale_.item<double>(), growth_tracker_.item<int64_t>()};
}

void LossScaler::Restore(double scale, int64_t growth) {
  if (!active_ || scale <= 0) return;
  scale_.fill_(scale);
  growth_tracker_.fill_(growth);
}

void LossScaler::Update() {
  if (!active_) return;
  // GradScaler's defaults: x2 after growth_interval clean steps, x0.5 after an overflow.
  at::_amp_update_scale_(scale_, growth_tracker_, found_inf_, 2.0, 0.5, growth_interval_);
}

}  // namespace gwo::trainer
