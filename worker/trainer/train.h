// gwo-train's entry point as a library call: runs one run spec to completion.
#ifndef GWO_WORKER_TRAINER_TRAIN_H_
#define GWO_WORKER_TRAINER_TRAIN_H_

#include <atomic>
#include <cstdint>
#include <limits>
#include <string>

#include "absl/status/statusor.h"
#include "spec/run_spec.h"

namespace gwo::trainer {

struct TrainOptions {
  std::string out_dir;                      // created if missing
  int events_fd = -1;                       // metric event lines go here; < 0: none
  const std::atomic<bool>* stop = nullptr;  // when it becomes true: stop after the step
};

struct TrainResult {
  int64_t steps_done = 0;
  bool stopped = false;  // *stop became true; no final checkpoint was written
  double val_loss = std::numeric_limits<double>::quiet_NaN();  // of the last evaluation
  double val_ppl = std::numeric_limits<double>::quiet_NaN();   // exp(val_loss)
};

// Trains spec's model on spec's data, as the contract of gwo-train describes:
// <out>/run.yaml at start, metric points to <out>/metrics.jsonl and the events fd,
// progress lines on stdout, and <out>/final.ckpt at the end (unless stopped).
// Every LibTorch exception is caught here (and nowhere else in gwo-train but in
// checkpoint loading) and returned as INTERNAL; other errors: INVALID_ARGUMENT for a
// spec the data or the device cannot satisfy, those of LoadCorpus, INTERNAL for I/O.
absl::StatusOr<TrainResult> RunTraining(const spec::RunSpec& spec, const TrainOptions& options);

}  // namespace gwo::trainer

#endif  // GWO_WORKER_TRAINER_TRAIN_H_
