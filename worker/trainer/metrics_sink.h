// Where gwo-train's metric points go: always `<out>/metrics.jsonl`, and, when the
// worker passed --events-fd, one event line per point on that pipe.
#ifndef GWO_WORKER_TRAINER_METRICS_SINK_H_
#define GWO_WORKER_TRAINER_METRICS_SINK_H_

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace gwo::trainer {

// Metric names (the worker and coordinator store them as given).
inline constexpr std::string_view kTrainLoss = "train_loss";
inline constexpr std::string_view kLearningRate = "lr";
inline constexpr std::string_view kValLoss = "val_loss";
inline constexpr std::string_view kValPerplexity = "val_ppl";
inline constexpr std::string_view kTokensPerSecond = "tokens_per_s";
inline constexpr std::string_view kParamsTotal = "params_total";
inline constexpr std::string_view kParamsTrainable = "params_trainable";
// The loss terms (training.lm_weight, training.distill) of the logged step.
inline constexpr std::string_view kTrainLmLoss = "train_lm_loss";
inline constexpr std::string_view kTrainDistillLoss = "train_distill_loss";
// Fidelity to the teacher at each evaluation (see evaluation.h: MeasureFidelity).
inline constexpr std::string_view kValKlTeacher = "val_kl_teacher";
inline constexpr std::string_view kAttnProbMse = "attn_prob_mse";
inline constexpr std::string_view kAttnGradCosine = "attn_grad_cosine";
// Peak memory (memory_probe.h) of training step 1, and of inference at length L
// (name + L, e.g. "infer_peak_mem_bytes_len512"), with inference throughput.
inline constexpr std::string_view kTrainStepPeakMemory = "train_step_peak_mem_bytes";
inline constexpr std::string_view kInferPeakMemoryPrefix = "infer_peak_mem_bytes_len";
inline constexpr std::string_view kInferTokensPerSecondPrefix = "infer_tokens_per_s_len";
// The natural optimizer's learning-rate factor of layer l (name + l) at a logged step.
inline constexpr std::string_view kNaturalScalePrefix = "natural_lr_scale_l";
// The in-context-learning comparison (icl.h), at the last step.
inline constexpr std::string_view kIclSimAou = "icl_sim_aou";
inline constexpr std::string_view kIclSimAm = "icl_sim_am";
inline constexpr std::string_view kIclKendallTau = "icl_kendall_tau";
// The label accuracy on the comparison's queries: ICL, the fine-tuned model, zero-shot.
inline constexpr std::string_view kIclAccuracyIcl = "icl_acc_icl";
inline constexpr std::string_view kIclAccuracyFt = "icl_acc_ft";
inline constexpr std::string_view kIclAccuracyZsl = "icl_acc_zsl";

// The event line for one point: "metric\t<step>\t<name>\t<value>\n", value as %.9g.
std::string FormatMetricEvent(int64_t step, std::string_view name, double value);

// The metrics.jsonl line for one point is common/metric_line.h's.

// Rewrites the metrics.jsonl at `path` (atomically) keeping only the points with
// step <= `last_step`, so that a run continuing after `last_step` does not repeat the
// points an interrupted attempt wrote past it; -1 empties it (a fresh start). Lines
// that do not parse, such as one torn by a crash, are dropped. A missing file is
// fine. INTERNAL on I/O errors.
absl::Status TruncateMetricsAfter(const std::string& path, int64_t last_step);

class MetricSink {
 public:
  // Appends to `jsonl_path` (created if missing); `events_fd` < 0 means no events.
  // The fd stays owned by the caller. INTERNAL when the file cannot be opened.
  static absl::StatusOr<std::unique_ptr<MetricSink>> Open(const std::string& jsonl_path,
                                                          int events_fd);
  ~MetricSink();
  MetricSink(const MetricSink&) = delete;
  MetricSink& operator=(const MetricSink&) = delete;

  // Records one point in both places, each flushed before returning.
  absl::Status Record(int64_t step, std::string_view name, double value);

 private:
  MetricSink(std::FILE* jsonl, int events_fd) : jsonl_(jsonl), events_fd_(events_fd) {}
  std::FILE* jsonl_;
  int events_fd_;
};

}  // namespace gwo::trainer

#endif  // GWO_WORKER_TRAINER_METRICS_SINK_H_
