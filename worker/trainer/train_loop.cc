#include "worker/trainer/training_session.h"

#include <torch/torch.h>

#include <chrono>

#include "worker/trainer/evaluation.h"
#include "worker/trainer/lr_schedule.h"
#include "worker/trainer/memory_probe.h"
#include "worker/trainer/precision.h"
#include "worker/trainer/step_profiler.h"

namespace gwo::trainer {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

StepLoss Session::RunStep(const torch::Tensor& x, const torch::Tensor& y,
                          const torch::Tensor& teacher_logits, double lr) {
  if (graph != nullptr) {
    try {
      const bool was_captured = graph->captured();
      StepLoss loss = graph->Step(x, y, lr);
      if (!was_captured && graph->captured()) Progress("training step captured in a CUDA graph");
      return loss;
    } catch (const c10::Error& e) {
      Progress("CUDA graph capture failed, training eagerly: %s", e.what_without_backtrace());
      graph.reset();
    }
  }
  return learner->Step(x, y, teacher_logits, spec.training, lr);
}

absl::Status Session::TrainSteps() {
  const spec::TrainingSpec& training = spec.training;
  const LrSchedule schedule{training.lr, training.min_lr, training.warmup_steps, training.steps};
  const int64_t T = spec.model.block_size;
  Clock::duration train_time{};  // time in training steps since the last log
  int64_t tokens_since_log = 0;
  const int64_t first_step = loop.step + 1;
  StepProfiler profiler(options.profile);
  for (int64_t step = first_step; step <= training.steps && !StopRequested(); ++step) {
    if (absl::Status s = profiler.BeforeStep(step); !s.ok()) return s;
    const Clock::time_point begin = Clock::now();
    const double lr = LearningRate(schedule, step);
    auto [x, y] = demo_x.defined() ? std::pair(demo_x, demo_y)
                                   : ToTensors(corpus().train(), sampler->Next(training.batch_size), T, device);
    torch::Tensor teacher_logits;  // (B, T, V), or undefined
    if (teacher != nullptr && training.distill.weight > 0) {
      torch::NoGradGuard no_grad;
      AutocastScope autocast(learner->precision, device);  // the teacher in the compute dtype
      teacher_logits = teacher->forward(x);
    }
    const bool measure_memory = step == first_step && resumed_from == 0;  // step 1 of a fresh start
    if (measure_memory) ResetPeakMemory(device);
    const StepLoss loss = RunStep(x, y, teacher_logits, lr);
    if (measure_memory) {
      const double peak = static_cast<double>(PeakMemoryBytes(device));
      Progress("training step peak memory: %.1f MiB on %s", peak / (1 << 20), device.str());
      if (absl::Status s = sink->Record(step, kTrainStepPeakMemory, peak); !s.ok()) return s;
    }
    StepLoss side_loss;
    if (side != nullptr) side_loss = side->Step(x, y, teacher_logits, training, lr);
    if (absl::Status s = profiler.AfterStep(step); !s.ok()) return s;
    loop.step = step;
    loop.lr = lr;
    tokens_since_log += x.numel();

    if (step == 1 || (training.log_every > 0 && step % training.log_every == 0)) {
      const double train_loss = loss.total.item<double>();  // synchronises with the device
      train_time += Clock::now() - begin;
      const double tokens_per_s = static_cast<double>(tokens_since_log) /
                                  std::chrono::duration<double>(train_time).count();
      Progress("step %d/%d train_loss %.4f lr %.3g %.1fk tok/s", step, training.steps, train_loss,
               lr, tokens_per_s / 1000.0);
      if (absl::Status s = RecordAll(*sink, step, "", {{kLearningRate, lr}, {kTokensPerSecond, tokens_per_s}});
          !s.ok()) {
        return s;
      }
      if (absl::Status s = RecordStep(*learner, loss, step); !s.ok()) return s;
      if (side != nullptr) {
        if (absl::Status s = RecordStep(*side, side_loss, step); !s.ok()) return s;
      }
      train_time = {};
      tokens_since_log = 0;
    } else {
      train_time += Clock::now() - begin;
    }

    if ((training.eval_every > 0 && step % training.eval_every == 0) || step == training.steps) {
      if (absl::Status s = EvaluateNow(); !s.ok()) return s;
    }
    if (training.checkpoint_every > 0 && step % training.checkpoint_every == 0) {
      if (absl::Status s = SaveTrainingCheckpoint(); !s.ok()) return s;
    }
    if (options.after_step) options.after_step(step);
  }
  return absl::OkStatus();
}

absl::Status Session::RecordStep(const Learner& l, const StepLoss& loss, int64_t step) {
  const double total = loss.total.item<double>();
  if (absl::Status s = sink->Record(step, MetricName(l.prefix, kTrainLoss), total); !s.ok()) return s;
  if (loss.distill.defined()) {
    if (absl::Status s = RecordAll(*sink, step, l.prefix,
                                   {{kTrainLmLoss, loss.lm.defined() ? loss.lm.item<double>() : 0.0},
                                    {kTrainDistillLoss, loss.distill.item<double>()}});
        !s.ok()) {
      return s;
    }
  }
  for (size_t i = 0; i < l.layer_scales.size(); ++i) {
    if (absl::Status s = sink->Record(step, MetricName(l.prefix, kNaturalScalePrefix, std::to_string(i)), l.layer_scales[i]);
        !s.ok()) {
      return s;
    }
  }
  if (!l.prefix.empty()) Progress("step %d %strain_loss %.4f", step, l.prefix, total);
  return absl::OkStatus();
}

}  // namespace gwo::trainer
