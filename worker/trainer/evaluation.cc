#include "worker/trainer/evaluation.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <limits>

#include "absl/strings/match.h"
#include "worker/trainer/batches.h"
#include "worker/trainer/lm_head_loss.h"
#include "worker/trainer/memory_probe.h"
#include "worker/trainer/metric_functions.h"
#include "worker/trainer/natural_optimizer.h"
#include "worker/trainer/optimization.h"

namespace gwo::trainer {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool SameShapes(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  if (a.empty() || a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!a[i].defined() || !b[i].defined() || a[i].sizes() != b[i].sizes()) return false;
  }
  return true;
}

// Per layer, the gradient of the LM loss on (x, y) with respect to `weights[l]`,
// concatenated flat. requires_grad is raised for the call and then restored.
std::vector<torch::Tensor> LayerGradients(models::CausalLm& model,
                                          const std::vector<std::vector<torch::Tensor>>& weights,
                                          const torch::Tensor& x, const torch::Tensor& y) {
  std::vector<torch::Tensor> flat;
  std::vector<bool> had;
  for (const auto& layer : weights) {
    for (const torch::Tensor& w : layer) {
      flat.push_back(w);
      had.push_back(w.requires_grad());
      w.requires_grad_(true);
    }
  }
  torch::Tensor loss = LanguageModelLoss(model.forward(x), y);
  std::vector<torch::Tensor> grads = torch::autograd::grad({loss}, flat, {}, /*retain_graph=*/false,
                                                           /*create_graph=*/false, /*allow_unused=*/true);
  for (size_t i = 0; i < flat.size(); ++i) flat[i].requires_grad_(had[i]);
  std::vector<torch::Tensor> out;
  size_t i = 0;
  for (const auto& layer : weights) {
    std::vector<torch::Tensor> parts;
    for (size_t k = 0; k < layer.size(); ++k, ++i) {
      parts.push_back(grads[i].defined() ? grads[i].reshape({-1}) : torch::zeros({flat[i].numel()}, flat[i].options()));
    }
    out.push_back(torch::cat(parts));
  }
  return out;
}

}  // namespace

std::pair<torch::Tensor, torch::Tensor> ToTensors(std::span<const int32_t> tokens,
                                                  const std::vector<int64_t>& starts, int64_t T,
                                                  const torch::Device& device) {
  const TokenBatch batch = GatherWindows(tokens, starts, T);
  const auto B = static_cast<int64_t>(starts.size());
  return {torch::tensor(batch.inputs, torch::kLong).view({B, T}).to(device),
          torch::tensor(batch.targets, torch::kLong).view({B, T}).to(device)};
}

std::vector<std::vector<int64_t>> ValidationBatches(int64_t val_tokens, const spec::RunSpec& spec) {
  const int64_t T = spec.model.block_size, B = spec.training.batch_size;
  const std::vector<int64_t> starts = EvenlySpacedStarts(val_tokens, T, B * spec.training.eval_batches);
  std::vector<std::vector<int64_t>> batches;
  for (int i = 0; i < spec.training.eval_batches; ++i) {
    batches.emplace_back(starts.begin() + i * B, starts.begin() + (i + 1) * B);
  }
  return batches;
}

std::optional<double> Evaluate(models::CausalLm& model, std::span<const int32_t> val,
                               const spec::RunSpec& spec, const torch::Device& device,
                               const std::atomic<bool>* stop, Precision precision) {
  const std::vector<std::vector<int64_t>> batches = ValidationBatches(static_cast<int64_t>(val.size()), spec);
  torch::NoGradGuard no_grad;
  model.eval();
  double sum = 0.0;
  for (const std::vector<int64_t>& batch_starts : batches) {
    if (stop != nullptr && stop->load()) {
      model.train();
      return std::nullopt;
    }
    auto [x, y] = ToTensors(val, batch_starts, spec.model.block_size, device);
    AutocastScope autocast(precision, device);
    sum += LmHeadLoss(model.forward_hidden(x), model.lm_head_weight(), y, ComputeDtype(precision))
               .item<double>();
  }
  model.train();
  return sum / static_cast<double>(batches.size());
}

std::vector<std::vector<torch::Tensor>> AttentionProjectionWeights(const models::CausalLm& model) {
  std::vector<std::vector<torch::Tensor>> layers(model.attentions().size());
  for (const auto& item : model.named_parameters()) {
    const std::string& name = item.key();
    const bool gpt2 = absl::EndsWith(name, ".attn.c_attn.weight") || absl::EndsWith(name, ".attn.c_proj.weight");
    const bool qwen3 = absl::StrContains(name, ".self_attn.") && absl::EndsWith(name, "_proj.weight");
    const int layer = LayerOfParameter(name);
    if ((gpt2 || qwen3) && layer >= 0 && layer < static_cast<int>(layers.size())) {
      layers[layer].push_back(item.value());
    }
  }
  return layers;
}

namespace {

// LayerGradients of the whole batch (x, y), accumulated over passes of at most
// `micro_batch` rows (0: one pass): the mean loss's gradient is the row-weighted sum of
// the passes' gradients.
std::vector<torch::Tensor> BatchLayerGradients(models::CausalLm& model,
                                               const std::vector<std::vector<torch::Tensor>>& weights,
                                               const torch::Tensor& x, const torch::Tensor& y,
                                               int64_t micro_batch) {
  const int64_t B = x.size(0);
  const int64_t M = micro_batch > 0 ? std::min(micro_batch, B) : B;
  std::vector<torch::Tensor> sum;
  for (int64_t r = 0; r < B; r += M) {
    const int64_t n = std::min(M, B - r);
    std::vector<torch::Tensor> g = LayerGradients(model, weights, x.narrow(0, r, n), y.narrow(0, r, n));
    const double w = static_cast<double>(n) / static_cast<double>(B);
    if (sum.empty()) {
      for (torch::Tensor& t : g) sum.push_back(t * w);
    } else {
      for (size_t l = 0; l < g.size(); ++l) sum[l].add_(g[l], w);
    }
  }
  return sum;
}

}  // namespace

Fidelity MeasureFidelity(models::CausalLm& model, models::CausalLm& reference,
                         const std::vector<std::pair<torch::Tensor, torch::Tensor>>& batches,
                         int64_t micro_batch) {
  Fidelity out;
  model.eval();
  reference.eval();
  const auto model_weights = AttentionProjectionWeights(model);
  const auto reference_weights = AttentionProjectionWeights(reference);
  double mse_sum = 0.0, cos_sum = 0.0;
  bool mse_ok = true, cos_ok = true;
  for (const auto& [x, y] : batches) {
    {
      torch::NoGradGuard no_grad;
      // Passes of at most micro_batch rows: a batch's logits of both models at once do
      // not fit next to a long-context reference implementation (3 GiB each for a
      // GPT-2 vocabulary at 4 x 4096). Every token weighs the same.
      const int64_t B = x.size(0);
      const int64_t M = micro_batch > 0 ? std::min(micro_batch, B) : B;
      for (int64_t r = 0; r < B; r += M) {
        const int64_t n = std::min(M, B - r);
        const torch::Tensor rows = x.narrow(0, r, n);
        out.kl += TokenKl(reference.forward(rows), model.forward(rows)).item<double>() *
                  static_cast<double>(n) / static_cast<double>(B);
      }
      // The probabilities of one layer of one sequence at a time: captured whole, a
      // GPT-2 at 4096 tokens would hold (B, nh, T, T) scores and probabilities of every
      // layer of both models at once (~70 GiB at batch 4). Same mean as the whole
      // tensors: every (layer, sequence) slice has the same size.
      const auto& mine = model.attentions();
      const auto& theirs = reference.attentions();
      mse_ok = mse_ok && mine.size() == theirs.size() && !mine.empty();
      double layers_sum = 0.0;
      for (size_t l = 0; mse_ok && l < mine.size(); ++l) {
        double rows_sum = 0.0;
        for (int64_t r = 0; mse_ok && r < x.size(0); ++r) {
          const torch::Tensor row = x.narrow(0, r, 1);  // (1, T)
          mine[l]->set_capture(true);
          theirs[l]->set_capture(true);
          model.forward(row);
          reference.forward(row);
          const std::vector<torch::Tensor> a = {mine[l]->captured().probs}, b = {theirs[l]->captured().probs};
          mse_ok = SameShapes(a, b);
          if (mse_ok) rows_sum += MeanSquaredErrorPerLayer(a, b);
          mine[l]->set_capture(false);
          theirs[l]->set_capture(false);
        }
        layers_sum += rows_sum / static_cast<double>(x.size(0));
      }
      if (mse_ok) mse_sum += layers_sum / static_cast<double>(mine.size());
    }
    const std::vector<torch::Tensor> g = BatchLayerGradients(model, model_weights, x, y, micro_batch);
    const std::vector<torch::Tensor> h = BatchLayerGradients(reference, reference_weights, x, y, micro_batch);
    cos_ok = cos_ok && SameShapes(g, h);
    if (cos_ok) {
      double layer_sum = 0.0;
      for (size_t l = 0; l < g.size(); ++l) layer_sum += CosineSimilarity(g[l], h[l]);
      cos_sum += layer_sum / static_cast<double>(g.size());
    }
  }
  const double n = static_cast<double>(batches.size());
  out.kl /= n;
  out.attn_prob_mse = mse_ok ? mse_sum / n : kNaN;
  out.attn_grad_cosine = cos_ok ? cos_sum / n : kNaN;
  model.train();
  return out;
}

std::vector<InferenceMemory> MeasureInference(models::CausalLm& model, const std::vector<int>& lengths) {
  std::vector<InferenceMemory> out;
  const torch::Device device = model.token_embedding().device();
  const bool was_training = model.is_training();
  model.eval();
  torch::NoGradGuard no_grad;
  for (int length : lengths) {
    if (length > model.block_size()) continue;
    const torch::Tensor idx = torch::zeros({1, length}, torch::TensorOptions().dtype(torch::kLong).device(device));
    ResetPeakMemory(device);
    const auto begin = std::chrono::steady_clock::now();
    const double checksum = model.forward(idx).sum().item<double>();  // waits for the device
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
    (void)checksum;
    out.push_back({.length = length, .peak_bytes = PeakMemoryBytes(device),
                   .tokens_per_s = seconds > 0 ? length / seconds : 0.0});
  }
  if (was_training) model.train();
  return out;
}

}  // namespace gwo::trainer
