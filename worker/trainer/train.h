// gwo-train's entry point as a library call: runs one run spec to completion.
#ifndef GWO_WORKER_TRAINER_TRAIN_H_
#define GWO_WORKER_TRAINER_TRAIN_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>

#include "absl/status/statusor.h"
#include "spec/run_spec.h"
#include "worker/trainer/step_profiler.h"

namespace gwo::trainer {

struct TrainOptions {
  std::string out_dir;  // created if missing
  int events_fd = -1;   // metric event lines go here; < 0: none
  // When it becomes true: stop after the step, writing a training-state checkpoint of
  // it first when training.checkpoint_every > 0.
  const std::atomic<bool>* stop = nullptr;
  // Continue from the newest valid <out>/checkpoints/step-<N>.ckpt, if any (its spec
  // must match, see resume_spec.h). false: start at step 1, deleting those files.
  bool resume = true;
  // Continue from this training-state checkpoint instead (e.g. one in a previous
  // attempt's directory); "" for none. Needs `resume`.
  std::string resume_from;
  // Called after each completed step, once its metrics, evaluation and checkpoint are
  // written. For tests: raising *stop in it stops after that step; throwing from it
  // ends the run as a crash would (RunTraining returns INTERNAL).
  std::function<void(int64_t step)> after_step;
  // Steps to record with LibTorch's profiler (none by default; step_profiler.h).
  ProfileOptions profile;
};

struct TrainResult {
  int64_t steps_done = 0;    // the last completed step (counting those of earlier attempts)
  int64_t resumed_from = 0;  // the step this run continued from; 0: it started afresh
  bool stopped = false;      // *stop became true; no final checkpoint was written
  double val_loss = std::numeric_limits<double>::quiet_NaN();  // of the last evaluation
  double val_ppl = std::numeric_limits<double>::quiet_NaN();   // exp(val_loss)
};

// Trains spec's model on spec's data, as the contract of gwo-train describes:
// <out>/run.yaml at start, metric points to <out>/metrics.jsonl and the events fd,
// progress lines on stdout, <out>/final.ckpt at the end (unless stopped), and:
//   <out>/checkpoints/step-<N>.ckpt every training.checkpoint_every steps (and when
//     stopped), the newest training.keep_checkpoints of them kept: weights plus
//     training state, from which a run continues exactly as if never interrupted;
//   <out>/best.ckpt: the weights at the lowest val_loss so far, rewritten at each
//     evaluation that improves on it.
// A resumed run continues at the checkpoint's step + 1: metrics.jsonl keeps the points
// up to that step and the events fd gets only new points; a fresh start empties
// metrics.jsonl. Every LibTorch exception is caught here (and nowhere else in gwo-train
// but in checkpoint loading) and returned as INTERNAL; other errors: INVALID_ARGUMENT
// for a spec the data or the device cannot satisfy, those of LoadCorpus, INTERNAL for
// I/O, and those of ReadResumePoint / FindResumePoint (checkpoint_dir.h), e.g.
// FAILED_PRECONDITION for a checkpoint of another spec.
absl::StatusOr<TrainResult> RunTraining(const spec::RunSpec& spec, const TrainOptions& options);

}  // namespace gwo::trainer

#endif  // GWO_WORKER_TRAINER_TRAIN_H_
