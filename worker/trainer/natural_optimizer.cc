#include "worker/trainer/natural_optimizer.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/match.h"
#include "worker/trainer/optimization.h"

namespace gwo::trainer {

std::vector<double> AttentionEnergies(const std::vector<torch::Tensor>& scores) {
  std::vector<double> energies;
  for (const torch::Tensor& s : scores) {
    if (!s.defined()) {
      energies.push_back(std::numeric_limits<double>::quiet_NaN());
      continue;
    }
    const torch::Tensor x = s.detach().to(torch::kFloat64);
    const torch::Tensor finite = torch::isfinite(x);  // the unmasked entries
    const double count = finite.sum().item<double>();
    energies.push_back(count == 0 ? std::numeric_limits<double>::quiet_NaN()
                                  : torch::where(finite, x * x, torch::zeros_like(x)).sum().item<double>() / count);
  }
  return energies;
}

std::vector<double> NaturalScales(const std::vector<double>& energies, const spec::OptimizerSpec& spec) {
  double sum = 0.0;
  int n = 0;
  for (double e : energies) {
    if (std::isnan(e)) continue;
    sum += e;
    ++n;
  }
  std::vector<double> scales;
  const double mean = n > 0 ? sum / n : 0.0;
  for (double e : energies) {
    if (std::isnan(e)) {
      scales.push_back(1.0);
    } else if (e <= 0.0) {
      scales.push_back(spec.natural_max_scale);
    } else {
      scales.push_back(std::clamp(std::pow(mean / e, spec.natural_strength), spec.natural_min_scale,
                                  spec.natural_max_scale));
    }
  }
  return scales;
}

int LayerOfParameter(const std::string& name) {
  std::string_view rest;
  if (absl::StartsWith(name, "h.")) {
    rest = std::string_view(name).substr(2);
  } else if (absl::StartsWith(name, "model.layers.")) {
    rest = std::string_view(name).substr(13);
  } else {
    return -1;
  }
  int layer = -1;
  if (!absl::SimpleAtoi(std::string(rest.substr(0, rest.find('.'))), &layer)) return -1;
  return layer;
}

LayeredAdamW MakeLayeredAdamW(const torch::nn::Module& model, const spec::TrainingSpec& training) {
  // (layer, decays) -> parameters, in a fixed order (resume restores by position).
  std::map<std::pair<int, bool>, std::vector<torch::Tensor>> groups;
  for (const auto& item : model.named_parameters()) {
    if (!item.value().requires_grad()) continue;
    groups[{LayerOfParameter(item.key()), item.value().dim() >= 2}].push_back(item.value());
  }
  LayeredAdamW out;
  std::vector<torch::optim::OptimizerParamGroup> param_groups;
  for (auto& [key, params] : groups) {
    param_groups.emplace_back(std::move(params),
                              AdamWGroupOptions(training, key.second ? training.weight_decay : 0.0));
    out.group_layer.push_back(key.first);
  }
  out.optimizer = std::make_unique<torch::optim::AdamW>(std::move(param_groups),
                                                        torch::optim::AdamWOptions(training.lr));
  return out;
}

void SetLayerLearningRates(LayeredAdamW& adamw, double lr, const std::vector<double>& scales) {
  auto& groups = adamw.optimizer->param_groups();
  for (size_t g = 0; g < groups.size(); ++g) {
    const int layer = adamw.group_layer[g];
    const double scale = layer >= 0 && layer < static_cast<int>(scales.size()) ? scales[layer] : 1.0;
    static_cast<torch::optim::AdamWOptions&>(groups[g].options()).lr(lr * scale);
  }
}

}  // namespace gwo::trainer
