#include "worker/trainer/icl.h"

#include <torch/torch.h>

#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "worker/trainer/metric_functions.h"

namespace gwo::trainer {
namespace {

struct Pass {
  std::vector<torch::Tensor> outputs;  // per layer (C): attention output at the last position
  std::vector<torch::Tensor> weights;  // per layer (n): head-mean weights over the last n positions
};

// One eval forward of `ids` (1, T) capturing attention; keeps, per layer, the last
// position's attention output and its weights over the final `n` keys (renormalised).
Pass Forward(models::CausalLm& model, const std::vector<int32_t>& ids, int64_t n) {
  const torch::Device device = model.token_embedding().device();
  const std::vector<int64_t> wide(ids.begin(), ids.end());
  const int64_t T = static_cast<int64_t>(wide.size());
  const torch::Tensor idx = torch::tensor(wide, torch::kLong).view({1, T}).to(device);
  for (const auto& a : model.attentions()) a->set_capture(true);
  model.forward(idx);
  Pass pass;
  for (const torch::Tensor& out : model.CapturedAttentionOutputs()) {
    pass.outputs.push_back(out.select(0, 0).select(0, T - 1).to(torch::kFloat64));  // (C)
  }
  for (const auto& a : model.attentions()) {
    // probs (1, nh, T, T) -> the last query's row (nh, T) -> its last n keys, head mean (n).
    const torch::Tensor row = a->captured().probs.select(0, 0).select(1, T - 1).narrow(-1, T - n, n);
    torch::Tensor w = row.mean(0).to(torch::kFloat64);
    pass.weights.push_back(w / w.sum().clamp_min(1e-30));
    a->set_capture(false);
  }
  return pass;
}

}  // namespace

absl::StatusOr<IclComparison> CompareIclWithFineTuning(models::CausalLm& fine_tuned,
                                                       models::CausalLm& reference,
                                                       const data::Tokenizer& tokenizer,
                                                       const data::LabelledExamples& examples,
                                                       const spec::IclSpec& spec) {
  if (static_cast<int>(examples.train.size()) < spec.shots) {
    return absl::InvalidArgumentError(absl::StrCat("training.icl.shots is ", spec.shots, " but the corpus has ",
                                                   examples.train.size(), " training examples"));
  }
  if (examples.val.empty()) return absl::InvalidArgumentError("training.icl: no validation examples");
  std::vector<int32_t> demos;
  for (int i = 0; i < spec.shots; ++i) {
    tokenizer.EncodeAppend(absl::StrCat(examples.train[i].text, "\nLabel: ", examples.train[i].label, "\n\n"), demos);
  }
  const bool ft_training = fine_tuned.is_training(), ref_training = reference.is_training();
  fine_tuned.eval();
  reference.eval();
  torch::NoGradGuard no_grad;
  IclComparison out;
  double aou_sum = 0, am_sum = 0, tau_sum = 0;
  int tau_queries = 0;
  const int64_t block = std::min(fine_tuned.block_size(), reference.block_size());
  for (size_t q = 0; q < examples.val.size() && out.queries < spec.queries; ++q) {
    std::vector<int32_t> query = tokenizer.Encode(absl::StrCat(examples.val[q].text, "\nLabel:"));
    // A long query keeps its last block/2 tokens (its end and "Label:"), leaving room
    // for demonstrations.
    if (static_cast<int64_t>(query.size()) > block / 2) query.erase(query.begin(), query.end() - block / 2);
    const int64_t n = static_cast<int64_t>(query.size());
    if (n == 0) continue;
    std::vector<int32_t> prompt = demos;
    prompt.insert(prompt.end(), query.begin(), query.end());
    if (static_cast<int64_t>(prompt.size()) > block) prompt.erase(prompt.begin(), prompt.end() - block);
    const Pass zsl = Forward(reference, query, n);
    const Pass icl = Forward(reference, prompt, n);
    const Pass ft = Forward(fine_tuned, query, n);
    const size_t layers = std::min(icl.outputs.size(), ft.outputs.size());
    if (layers == 0 || zsl.outputs.size() != icl.outputs.size()) continue;
    double aou = 0, am = 0, tau = 0;
    for (size_t l = 0; l < layers; ++l) {
      aou += CosineSimilarity(icl.outputs[l] - zsl.outputs[l], ft.outputs[l] - zsl.outputs[l]);
      am += CosineSimilarity(icl.weights[l], ft.weights[l]);
      if (n >= 2) {
        const double t = KendallTau(icl.weights[l], ft.weights[l]);
        tau += std::isnan(t) ? 0.0 : t;
      }
    }
    aou_sum += aou / layers;
    am_sum += am / layers;
    if (n >= 2) {
      tau_sum += tau / layers;
      ++tau_queries;
    }
    ++out.queries;
  }
  if (ft_training) fine_tuned.train();
  if (ref_training) reference.train();
  if (out.queries == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("training.icl: no validation query encodes to a token (block_size ", block, ")"));
  }
  out.sim_aou = aou_sum / out.queries;
  out.sim_am = am_sum / out.queries;
  out.kendall_tau = tau_queries > 0 ? tau_sum / tau_queries : std::nan("");
  return out;
}

}  // namespace gwo::trainer
