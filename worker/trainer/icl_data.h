// The data of the dual-form experiment (worker/trainer/icl.h), free of LibTorch: which
// labelled examples are the demonstrations and the queries, how they are formatted
// into tokens, and the label-masked batch the K/V fine-tuning trains on. The ICL
// comparison and the fine-tuning (training.icl.train_on: demonstrations) both build
// their data with BuildIclTask, so they see exactly the same demonstrations, token
// for token.
//
// Formatting (tokens, T = the tokenizer):
//   demonstration  T(text)[:budget] ++ T("\nLabel:") ++ T(" " + label) ++ T("\n\n")
//   query          T(text)[:query budget] ++ T("\nLabel:")
//   ICL prompt     the demonstrations, concatenated, ++ the query
// (for a byte-level tokenizer, exactly the bytes "<text>\nLabel: <label>\n\n"). A text
// keeps its first tokens (an e-mail's subject line comes first). Budgets, for
// block_size B, `shots` S and the longest answer A = max |T(" " + label)|:
//   query           at most B / 2 tokens,
//   demonstration   at most (B - B / 2 - A) / S tokens,
// so that the ICL prompt followed by any answer fits in B (the accuracy scores each
// candidate answer after the prompt).
#ifndef GWO_WORKER_TRAINER_ICL_DATA_H_
#define GWO_WORKER_TRAINER_ICL_DATA_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "spec/training_modes.h"
#include "worker/data/corpus.h"
#include "worker/data/tokenizer.h"

namespace gwo::trainer {

// A target the loss ignores (PyTorch's cross_entropy default ignore_index).
inline constexpr int64_t kIgnoreTarget = -100;

// One formatted example.
struct FormattedExample {
  std::vector<int32_t> tokens;
  // [answer_begin, answer_end): the tokens of " <label>" in `tokens` (a demonstration);
  // a query has no answer (both are tokens.size()).
  int64_t answer_begin = 0;
  int64_t answer_end = 0;
  std::string label;
};

struct IclTask {
  std::vector<FormattedExample> demonstrations;  // `shots` of them
  std::vector<FormattedExample> queries;         // up to `queries` of them
  std::vector<int32_t> context;                  // the demonstrations' tokens, concatenated
  std::vector<std::string> labels;               // the candidate labels: the training labels, sorted
  std::vector<std::vector<int32_t>> answers;     // answers[i] = T(" " + labels[i])
  // The index in `labels` of each query's true label (-1 when the label is not among
  // the training labels).
  std::vector<int> query_labels;
};

// Indices of the first `count` examples taken round-robin over the labels, in the
// order each label first appears: the first example of each label, then the second
// of each, ... (a label that runs out is passed over). Fewer when there are fewer.
std::vector<size_t> RoundRobinByLabel(const std::vector<data::LabelledExample>& examples, size_t count);

// The task: spec.shots demonstrations from examples.train and up to spec.queries
// queries from examples.val, both chosen by RoundRobinByLabel, formatted as above.
// INVALID_ARGUMENT when there are fewer training examples than spec.shots, no
// validation example, or block_size leaves no room for a demonstration's text.
absl::StatusOr<IclTask> BuildIclTask(const data::Tokenizer& tokenizer, const data::LabelledExamples& examples,
                                     const spec::IclSpec& spec, int64_t block_size);

// The fine-tuning batch of `demonstrations`: one row each, right-padded to the
// longest. inputs[r][j] = tokens[j] (0 past the end); targets[r][j] = tokens[j + 1]
// where j + 1 is a token of the row and, with label_only, one of its answer's tokens;
// kIgnoreTarget elsewhere.
struct MaskedBatch {
  int64_t rows = 0;
  int64_t cols = 0;               // the longest demonstration's length - 1
  std::vector<int64_t> inputs;    // (rows, cols) row-major
  std::vector<int64_t> targets;   // (rows, cols) row-major
};
MaskedBatch DemonstrationBatch(const std::vector<FormattedExample>& demonstrations, bool label_only);

}  // namespace gwo::trainer

#endif  // GWO_WORKER_TRAINER_ICL_DATA_H_
