// One training session: this process's part of a run, from its first step to the last
// one or a stop. train.cc sets it up (data, models, learners, teacher) and drives it;
// its methods live by concern: session.cc (starting, resuming, checkpoints),
// train_loop.cc (the steps and their metrics), session_evaluation.cc (validation and
// fidelity), final_measurements.cc (what is measured once training is done).
#ifndef GWO_WORKER_TRAINER_TRAINING_SESSION_H_
#define GWO_WORKER_TRAINER_TRAINING_SESSION_H_

#include <torch/types.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "spec/run_spec.h"
#include "worker/data/token_cache.h"
#include "worker/data/tokenizer.h"
#include "worker/models/model.h"
#include "worker/trainer/batches.h"
#include "worker/trainer/checkpoint_dir.h"
#include "worker/trainer/learner.h"
#include "worker/trainer/metrics_sink.h"
#include "worker/trainer/step_graph.h"
#include "worker/trainer/train.h"
#include "worker/trainer/training_state.h"

namespace gwo::trainer {

// A human-readable line for the run's log (the worker relays stdout).
template <typename... Args>
void Progress(const absl::FormatSpec<Args...>& format, const Args&... args) {
  std::fputs(absl::StrFormat(format, args...).c_str(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

// prefix + name (Debian's Abseil has no StrCat for std::string_view).
std::string MetricName(std::string_view prefix, std::string_view name, std::string suffix = "");

// Records each (name, value) under prefix + name.
absl::Status RecordAll(MetricSink& sink, int64_t step, std::string_view prefix,
                       std::initializer_list<std::pair<std::string_view, double>> points);

// The spec's tokenizer and its corpus, tokenized (through the shared token cache) and split.
struct LoadedData {
  std::unique_ptr<data::Tokenizer> tokenizer;
  data::TokenizedCorpus corpus;
};

struct Session {
  const spec::RunSpec& spec;
  const TrainOptions& options;
  std::filesystem::path out;
  std::string checkpoint_dir;
  torch::Device device;
  LoadedData data;
  std::unique_ptr<Learner> learner;  // the run's model
  std::unique_ptr<StepGraph> graph;  // the learner's step as a CUDA graph, or null (eager)
  std::unique_ptr<Learner> side;     // training.side_by_side's model, or null
  std::shared_ptr<models::CausalLm> teacher;  // training.distill's, or null
  // With LoRA: a model without adapters into which the merged weights are copied
  // for the weights-only checkpoints (final.ckpt, best.ckpt, final/).
  std::shared_ptr<models::CausalLm> plain;
  std::unique_ptr<WindowSampler> sampler;
  // training.icl.train_on demonstrations: every step's batch (inputs, targets (shots, L),
  // targets kIgnoreTarget outside the loss); undefined: corpus windows from `sampler`.
  torch::Tensor demo_x, demo_y;
  std::unique_ptr<MetricSink> sink;
  LoopState loop;
  int64_t saved_step = -1;   // the step of the newest training-state checkpoint in checkpoint_dir
  int64_t resumed_from = 0;  // the step this session continued from; 0: a fresh start

  bool StopRequested() const { return options.stop != nullptr && options.stop->load(); }
  const data::TokenizedCorpus& corpus() const { return data.corpus; }
  models::CausalLm& model() { return *learner->model; }

  // The run's model as weights-only checkpoints store it (adapters merged).
  absl::StatusOr<models::CausalLm*> ExportModel();

  absl::Status RecordParameterCounts(const Learner& l);

  // Continues from `point` (nullopt: starts at step 1), clears what an earlier start
  // left past the starting step (checkpoints, metric points; best.ckpt on a fresh
  // start), writes run.yaml and opens the metric sink.
  absl::Status Begin(const std::optional<ResumePoint>& point);

  // Writes <checkpoint_dir>/step-<loop.step>.ckpt and prunes the older ones.
  absl::Status SaveTrainingCheckpoint();

  // One step of the run's model: through its CUDA graph when there is one (a capture
  // that fails says why once and leaves the run eager), else eagerly.
  StepLoss RunStep(const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& teacher_logits,
                   double lr);

  // Steps loop.step + 1 .. training.steps, or until a stop.
  absl::Status TrainSteps();

  // The logged step's metrics of `l`.
  absl::Status RecordStep(const Learner& l, const StepLoss& loss, int64_t step);

  // Validation at loop.step: metrics, and best.ckpt when it improves. An evaluation cut
  // short by a stop leaves loop.eval_pending set, for the run that continues.
  absl::Status EvaluateNow();

  // The fidelity metrics of `l` against the teacher on the first fidelity_batches
  // validation batches.
  absl::Status RecordFidelity(Learner& l);

  // What is measured once training is done: inference memory at the configured
  // lengths, the in-context-learning comparison, generated samples.
  absl::Status FinalMeasurements();
};

}  // namespace gwo::trainer

#endif  // GWO_WORKER_TRAINER_TRAINING_SESSION_H_
