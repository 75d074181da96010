#include "worker/trainer/icl.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "worker/trainer/icl_data.h"
#include "worker/trainer/metric_functions.h"

namespace gwo::trainer {
namespace {

struct Pass {
  std::vector<torch::Tensor> outputs;  // per layer (C): attention output at the last position
  std::vector<torch::Tensor> weights;  // per layer (n): head-mean weights over the last n keys
};

torch::Tensor Ids(const std::vector<int32_t>& ids, const torch::Device& device) {
  const std::vector<int64_t> wide(ids.begin(), ids.end());
  return torch::tensor(wide, torch::kLong).view({1, static_cast<int64_t>(wide.size())}).to(device);
}

// One eval forward of `ids` (1, T) capturing attention; keeps, per layer, the last
// position's attention output and its weights over the final `n` keys.
Pass Forward(models::CausalLm& model, const std::vector<int32_t>& ids, int64_t n) {
  const int64_t T = static_cast<int64_t>(ids.size());
  for (const auto& a : model.attentions()) a->set_capture(true);
  model.forward(Ids(ids, model.token_embedding().device()));
  Pass pass;
  for (const torch::Tensor& out : model.CapturedAttentionOutputs()) {
    pass.outputs.push_back(out.select(0, 0).select(0, T - 1).to(torch::kFloat64));  // (C)
  }
  for (const auto& a : model.attentions()) {
    // probs (1, nh, T, T) -> the last query's row (nh, T) -> its last n keys, head mean (n).
    const torch::Tensor row = a->captured().probs.select(0, 0).select(1, T - 1).narrow(-1, T - n, n);
    pass.weights.push_back(row.mean(0).to(torch::kFloat64));
    a->set_capture(false);
  }
  return pass;
}


double MeanCosine(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b, size_t layers) {
  double sum = 0;
  for (size_t l = 0; l < layers; ++l) sum += CosineSimilarity(a[l], b[l]);
  return sum / static_cast<double>(layers);
}

}  // namespace

int MostLikelyAnswer(models::CausalLm& model, const std::vector<int32_t>& prompt,
                     const std::vector<std::vector<int32_t>>& answers) {
  const int64_t P = static_cast<int64_t>(prompt.size());
  int64_t longest = 0;
  for (const auto& a : answers) longest = std::max<int64_t>(longest, static_cast<int64_t>(a.size()));
  const int64_t L = static_cast<int64_t>(answers.size());
  const int64_t T = P + longest - 1;
  std::vector<int64_t> rows(static_cast<size_t>(L * T), 0);
  for (int64_t r = 0; r < L; ++r) {
    std::copy(prompt.begin(), prompt.end(), rows.begin() + r * T);
    const auto& a = answers[static_cast<size_t>(r)];
    for (size_t j = 0; j + 1 < a.size(); ++j) rows[static_cast<size_t>(r * T + P) + j] = a[j];
  }
  const torch::Device device = model.token_embedding().device();
  const torch::Tensor x = torch::tensor(rows, torch::kLong).view({L, T}).to(device);
  // Only the positions that predict answer tokens, P - 1 .. P + longest - 2: the whole
  // (L, T, V) in float64 on the host was 12 GB for 5 answers after a 2048-token prompt
  // with Qwen3's vocabulary, copied for every prediction.
  const torch::Tensor logits = model.forward(x).narrow(1, P - 1, longest);                // (L, longest, V)
  const torch::Tensor logp = torch::log_softmax(logits.to(torch::kFloat64), -1).cpu();  // (L, longest, V)
  int best = 0;
  double best_score = -std::numeric_limits<double>::infinity();
  for (int64_t r = 0; r < L; ++r) {
    const auto& a = answers[static_cast<size_t>(r)];
    double score = 0;
    for (size_t j = 0; j < a.size(); ++j) {
      score += logp[r][static_cast<int64_t>(j)][a[j]].item<double>();
    }
    if (score > best_score) {
      best_score = score;
      best = static_cast<int>(r);
    }
  }
  return best;
}

absl::StatusOr<IclComparison> CompareIclWithFineTuning(models::CausalLm& fine_tuned,
                                                       models::CausalLm& reference,
                                                       const data::Tokenizer& tokenizer,
                                                       const data::LabelledExamples& examples,
                                                       const spec::IclSpec& spec) {
  const int64_t block = std::min(fine_tuned.block_size(), reference.block_size());
  absl::StatusOr<IclTask> task = BuildIclTask(tokenizer, examples, spec, block);
  if (!task.ok()) return task.status();
  const bool ft_training = fine_tuned.is_training(), ref_training = reference.is_training();
  fine_tuned.eval();
  reference.eval();
  torch::NoGradGuard no_grad;
  IclComparison out;
  double aou_sum = 0, am_sum = 0, tau_sum = 0;
  int tau_queries = 0, right_icl = 0, right_ft = 0, right_zsl = 0;
  for (size_t q = 0; q < task->queries.size(); ++q) {
    const std::vector<int32_t>& query = task->queries[q].tokens;
    const int64_t n = static_cast<int64_t>(query.size());
    std::vector<int32_t> prompt = task->context;
    prompt.insert(prompt.end(), query.begin(), query.end());
    const Pass zsl = Forward(reference, query, n);
    const Pass icl = Forward(reference, prompt, n);
    const Pass ft = Forward(fine_tuned, query, n);
    const size_t layers = std::min(icl.outputs.size(), ft.outputs.size());
    if (layers == 0 || zsl.outputs.size() != icl.outputs.size()) continue;
    double aou = 0, tau = 0;
    for (size_t l = 0; l < layers; ++l) {
      aou += CosineSimilarity(icl.outputs[l] - zsl.outputs[l], ft.outputs[l] - zsl.outputs[l]);
      if (n >= 2) {
        const double t = KendallTau(icl.weights[l], ft.weights[l]);
        tau += std::isnan(t) ? 0.0 : t;
      }
    }
    aou_sum += aou / static_cast<double>(layers);
    am_sum += MeanCosine(icl.weights, ft.weights, layers);
    if (n >= 2) {
      tau_sum += tau / static_cast<double>(layers);
      ++tau_queries;
    }
    const int truth = task->query_labels[q];
    right_icl += MostLikelyAnswer(reference, prompt, task->answers) == truth;
    right_ft += MostLikelyAnswer(fine_tuned, query, task->answers) == truth;
    right_zsl += MostLikelyAnswer(reference, query, task->answers) == truth;
    ++out.queries;
  }
  if (ft_training) fine_tuned.train();
  if (ref_training) reference.train();
  if (out.queries == 0) {
    return absl::InvalidArgumentError("training.icl: the two models have different numbers of layers");
  }
  const double queries = out.queries;
  out.sim_aou = aou_sum / queries;
  out.sim_am = am_sum / queries;
  out.kendall_tau = tau_queries > 0 ? tau_sum / tau_queries : std::nan("");
  out.accuracy_icl = right_icl / queries;
  out.accuracy_ft = right_ft / queries;
  out.accuracy_zsl = right_zsl / queries;
  return out;
}

}  // namespace gwo::trainer
