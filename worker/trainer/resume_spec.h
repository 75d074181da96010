// Whether a training-state checkpoint may continue under a given run spec: the
// fields that shape the loss curve must be equal; those that only say how the run
// is observed or where it runs may change between attempts.
#ifndef GWO_WORKER_TRAINER_RESUME_SPEC_H_
#define GWO_WORKER_TRAINER_RESUME_SPEC_H_

#include <optional>
#include <string>

#include "spec/run_spec.h"

namespace gwo::trainer {

// nullopt when a run with spec `given` may resume from a checkpoint embedding
// `saved`; otherwise one line per differing field ("training.lr: 0.003 in the
// checkpoint, 0.001 now"), in spec order. Fields that may differ:
//   max_restarts; training.log_every, eval_every, checkpoint_every, keep_checkpoints,
//   threads, device and cuda_graph (how the run is observed, where and how fast it
//   runs; a move between CPU and GPU continues the run, though not bit for bit,
//   when the precision is the same);
//   model.init (and its from_run/checkpoint): the weights come from the checkpoint;
//   data.path when both name the same data.recipe (the corpora directory is the
//   machine's; the sampler's state still checks the data's size).
// training.precision must be equal: gwo-train compares the resolved precision (bf16,
// fp32, ...; never "auto"), and a checkpoint that says "auto" (written before the field
// existed) trained in fp32.
// Everything else, including training.steps (it shapes the LR schedule) and
// eval_batches (it defines val_loss, which best.ckpt compares), must be equal.
std::optional<std::string> ResumeIncompatibility(const spec::RunSpec& saved,
                                                 const spec::RunSpec& given);

}  // namespace gwo::trainer

#endif  // GWO_WORKER_TRAINER_RESUME_SPEC_H_
