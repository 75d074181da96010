// Checkpoints: the run spec plus the model weights (and, for the periodic ones, the
// training state of training_state.h), in the container of checkpoint_format.h,
// written atomically.
#ifndef GWO_WORKER_TRAINER_CHECKPOINT_H_
#define GWO_WORKER_TRAINER_CHECKPOINT_H_

#include <torch/nn/module.h>

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "spec/run_spec.h"
#include "worker/models/model.h"

namespace gwo::trainer {

// The parameters and buffers of `module` and its children, copied to CPU, as the bytes
// of a torch::serialize::OutputArchive (one nested archive per child module).
// Throws c10::Error only when LibTorch itself fails.
std::string SerializeModuleState(const torch::nn::Module& module);

// Copies the tensors of SerializeModuleState bytes into `module`'s parameters and
// buffers (on whatever device they live). DATA_LOSS when the bytes are not an
// archive, or a tensor is missing or has another shape or dtype; `module` may then
// be partly overwritten.
absl::Status LoadModuleState(std::string_view bytes, torch::nn::Module& module);

// Writes <path> = magic, version, spec::RunSpecToYaml(spec), the model state,
// `training_state` (SerializeTrainingState bytes; empty for a weights-only checkpoint
// such as final.ckpt or best.ckpt) and a checksum, atomically (see
// WriteFileAtomically). INTERNAL on I/O errors.
absl::Status SaveCheckpoint(const std::string& path, const spec::RunSpec& spec,
                            const torch::nn::Module& model, std::string training_state = {});

struct LoadedCheckpoint {
  spec::RunSpec spec;  // as embedded in the file
  std::shared_ptr<models::CausalLm> model;  // built from spec, weights loaded, on CPU, in eval mode
};

// Reads and validates a checkpoint written by SaveCheckpoint (any kind; the training
// state, if any, is not looked at). NOT_FOUND when the file
// is missing; DATA_LOSS / FAILED_PRECONDITION for a corrupt, truncated, foreign or
// newer-format file (see DecodeCheckpoint); INVALID_ARGUMENT when the embedded spec
// does not parse or describes a model that cannot be built (the vocabulary size comes
// from model.vocab_size, else from loading the spec's tokenizer). A bad file never throws.
absl::StatusOr<LoadedCheckpoint> LoadCheckpoint(const std::string& path);

// The model's vocabulary size for `spec`: model.vocab_size, else its tokenizer's.
absl::StatusOr<int> VocabularySize(const spec::RunSpec& spec);

}  // namespace gwo::trainer

#endif  // GWO_WORKER_TRAINER_CHECKPOINT_H_
