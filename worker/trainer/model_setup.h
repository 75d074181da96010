// Building the models of a run: the trained model (spec + initial weights), the
// frozen teacher of training.distill, and the weights-only checkpoints written at the
// end (with LoRA adapters folded into their base weights).
#ifndef GWO_WORKER_TRAINER_MODEL_SETUP_H_
#define GWO_WORKER_TRAINER_MODEL_SETUP_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "spec/run_spec.h"
#include "worker/models/model.h"

namespace gwo::trainer {

// The model of `spec.model` with attention `attention` (the spec's, or the side-by-side
// model's), initial weights drawn from the current torch seed or loaded from
// model.init (a gwo .ckpt, an HF directory or a .safetensors file), on `device`, in
// training mode. INVALID_ARGUMENT when the variant cannot run on the device or the
// initial weights do not fit; errors of LoadCheckpoint / LoadWeights.
absl::StatusOr<std::shared_ptr<models::CausalLm>> BuildModel(const spec::RunSpec& spec,
                                                             const spec::AttentionSpec& attention,
                                                             int vocab_size,
                                                             const torch::Device& device);

// The teacher of `distill` (its `teacher` path: a gwo .ckpt, whose embedded spec
// builds the model, or an HF model directory), frozen (no requires_grad), in eval
// mode, on `device`. INVALID_ARGUMENT when its vocabulary differs from `vocab_size`
// or it is a stage whose path the coordinator has not resolved yet; errors of
// LoadCheckpoint / LoadWeights.
absl::StatusOr<std::shared_ptr<models::CausalLm>> LoadTeacher(const spec::DistillSpec& distill,
                                                              int vocab_size,
                                                              const torch::Device& device);

// Whether `model` carries LoRA adapters.
bool HasAdapters(const models::CausalLm& model);

// Copies `adapted`'s weights with every adapter merged in (MergedParameters) into
// `plain`, a model of the same spec without adapters (made once at the start: making
// one draws random numbers, which would move the run's trajectory), and its buffers.
// INTERNAL when a tensor has no counterpart.
absl::Status CopyMergedWeights(const models::CausalLm& adapted, models::CausalLm& plain);

}  // namespace gwo::trainer

#endif  // GWO_WORKER_TRAINER_MODEL_SETUP_H_
