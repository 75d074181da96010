#include "worker/trainer/icl_data.h"

#include <algorithm>
#include <map>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace gwo::trainer {
namespace {

// T(text)[:budget] ++ marker (++ answer ++ tail for a demonstration).
FormattedExample Format(const data::Tokenizer& tokenizer, const data::LabelledExample& example, int64_t text_budget,
                        const std::vector<int32_t>& marker, const std::vector<int32_t>* answer,
                        const std::vector<int32_t>& tail) {
  FormattedExample f;
  f.label = example.label;
  f.tokens = tokenizer.Encode(example.text);
  if (static_cast<int64_t>(f.tokens.size()) > text_budget) f.tokens.resize(static_cast<size_t>(text_budget));
  f.tokens.insert(f.tokens.end(), marker.begin(), marker.end());
  f.answer_begin = static_cast<int64_t>(f.tokens.size());
  if (answer != nullptr) {
    f.tokens.insert(f.tokens.end(), answer->begin(), answer->end());
    f.answer_end = static_cast<int64_t>(f.tokens.size());
    f.tokens.insert(f.tokens.end(), tail.begin(), tail.end());
  } else {
    f.answer_end = f.answer_begin;
  }
  return f;
}

}  // namespace

std::vector<size_t> RoundRobinByLabel(const std::vector<data::LabelledExample>& examples, size_t count) {
  std::vector<std::string> order;                   // labels by first appearance
  std::map<std::string, std::vector<size_t>> by_label;
  for (size_t i = 0; i < examples.size(); ++i) {
    std::vector<size_t>& list = by_label[examples[i].label];
    if (list.empty()) order.push_back(examples[i].label);
    list.push_back(i);
  }
  std::vector<size_t> out;
  for (size_t round = 0; out.size() < count; ++round) {
    bool any = false;
    for (const std::string& label : order) {
      const std::vector<size_t>& list = by_label[label];
      if (round >= list.size()) continue;
      any = true;
      if (out.size() < count) out.push_back(list[round]);
    }
    if (!any) break;
  }
  return out;
}

absl::StatusOr<IclTask> BuildIclTask(const data::Tokenizer& tokenizer, const data::LabelledExamples& examples,
                                     const spec::IclSpec& spec, int64_t block_size) {
  if (spec.shots < 1 || static_cast<int>(examples.train.size()) < spec.shots) {
    return absl::InvalidArgumentError(absl::StrCat("training.icl.shots is ", spec.shots, " but the corpus has ",
                                                   examples.train.size(), " training examples"));
  }
  if (examples.val.empty()) return absl::InvalidArgumentError("training.icl: no validation examples");
  IclTask task;
  for (const data::LabelledExample& e : examples.train) task.labels.push_back(e.label);
  std::sort(task.labels.begin(), task.labels.end());
  task.labels.erase(std::unique(task.labels.begin(), task.labels.end()), task.labels.end());
  int64_t longest_answer = 0;
  for (const std::string& label : task.labels) {
    task.answers.push_back(tokenizer.Encode(absl::StrCat(" ", label)));
    longest_answer = std::max<int64_t>(longest_answer, static_cast<int64_t>(task.answers.back().size()));
  }
  const std::vector<int32_t> marker = tokenizer.Encode("\nLabel:");
  const std::vector<int32_t> tail = tokenizer.Encode("\n\n");
  const int64_t marker_size = static_cast<int64_t>(marker.size());
  const int64_t query_budget = block_size / 2;
  const int64_t demo_budget = (block_size - query_budget - longest_answer) / spec.shots;
  const int64_t demo_text_budget = demo_budget - marker_size - longest_answer - static_cast<int64_t>(tail.size());
  if (demo_text_budget < 1 || query_budget - marker_size < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "training.icl: block_size ", block_size, " leaves ", demo_budget, " tokens per demonstration (", spec.shots,
        " shots) and ", query_budget, " per query; a demonstration needs more than ",
        marker_size + longest_answer + static_cast<int64_t>(tail.size()),
        " (\"\\nLabel:\", the longest label, \"\\n\\n\"): use a larger block_size or fewer shots"));
  }
  for (size_t i : RoundRobinByLabel(examples.train, static_cast<size_t>(spec.shots))) {
    const auto label = std::lower_bound(task.labels.begin(), task.labels.end(), examples.train[i].label);
    const std::vector<int32_t>& answer = task.answers[label - task.labels.begin()];
    // Each demonstration's text gets the budget left by its own answer.
    const int64_t text_budget = demo_budget - marker_size - static_cast<int64_t>(answer.size()) -
                                static_cast<int64_t>(tail.size());
    task.demonstrations.push_back(Format(tokenizer, examples.train[i], text_budget, marker, &answer, tail));
    const std::vector<int32_t>& tokens = task.demonstrations.back().tokens;
    task.context.insert(task.context.end(), tokens.begin(), tokens.end());
  }
  for (size_t i : RoundRobinByLabel(examples.val, static_cast<size_t>(std::max(spec.queries, 0)))) {
    task.queries.push_back(Format(tokenizer, examples.val[i], query_budget - marker_size, marker, nullptr, tail));
    const auto label = std::lower_bound(task.labels.begin(), task.labels.end(), examples.val[i].label);
    task.query_labels.push_back(label != task.labels.end() && *label == examples.val[i].label
                                    ? static_cast<int>(label - task.labels.begin())
                                    : -1);
  }
  return task;
}

MaskedBatch DemonstrationBatch(const std::vector<FormattedExample>& demonstrations, bool label_only) {
  MaskedBatch batch;
  batch.rows = static_cast<int64_t>(demonstrations.size());
  for (const FormattedExample& d : demonstrations) {
    batch.cols = std::max(batch.cols, static_cast<int64_t>(d.tokens.size()) - 1);
  }
  batch.inputs.assign(static_cast<size_t>(batch.rows * batch.cols), 0);
  batch.targets.assign(static_cast<size_t>(batch.rows * batch.cols), kIgnoreTarget);
  for (int64_t r = 0; r < batch.rows; ++r) {
    const FormattedExample& d = demonstrations[static_cast<size_t>(r)];
    const int64_t n = static_cast<int64_t>(d.tokens.size());
    for (int64_t j = 0; j < batch.cols && j < n; ++j) {
      batch.inputs[static_cast<size_t>(r * batch.cols + j)] = d.tokens[static_cast<size_t>(j)];
      const int64_t next = j + 1;
      if (next >= n) continue;
      if (label_only && (next < d.answer_begin || next >= d.answer_end)) continue;
      batch.targets[static_cast<size_t>(r * batch.cols + j)] = d.tokens[static_cast<size_t>(next)];
    }
  }
  return batch;
}

}  // namespace gwo::trainer
