// The byte layout of a gwo checkpoint file (free of LibTorch):
//
//   magic        8 bytes   "GWOCKPT\0"
//   version      uint32    kCheckpointVersion
//   spec_len     uint64    then spec_len bytes: the run spec, as spec::RunSpecToYaml
//   model_len    uint64    then model_len bytes: the model state (a LibTorch archive)
//   state_len    uint64    then state_len bytes: the training state (training_state.h),
//                          empty in weights-only checkpoints (final.ckpt, best.ckpt)
//   checksum     uint64    FNV-1a 64 of every byte before it
//
// Integers are little-endian. Version 1 (written before resume existed) is the same
// without state_len and the state; it is still read, as a weights-only checkpoint.
#ifndef GWO_WORKER_TRAINER_CHECKPOINT_FORMAT_H_
#define GWO_WORKER_TRAINER_CHECKPOINT_FORMAT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace gwo::trainer {

inline constexpr std::string_view kCheckpointMagic{"GWOCKPT\0", 8};
inline constexpr uint32_t kCheckpointVersion = 2;  // written; 1 and 2 are read

struct CheckpointContents {
  std::string spec_yaml;    // the run spec the weights were trained with
  std::string model_bytes;  // torch::serialize::OutputArchive::save_to output
  std::string state_bytes;  // SerializeTrainingState output; empty: weights only
};

// The file bytes for `contents`, in format kCheckpointVersion.
std::string EncodeCheckpoint(const CheckpointContents& contents);

// Parses and validates file bytes; `name` (e.g. the path) prefixes error messages.
// DATA_LOSS when the magic is wrong ("not a gwo checkpoint"), a length runs past the
// end of the file (truncated), bytes trail the checksum, or the checksum does not
// match; FAILED_PRECONDITION for a format version this build cannot read (0 or newer
// than kCheckpointVersion). A version 1 file decodes with an empty state_bytes.
absl::StatusOr<CheckpointContents> DecodeCheckpoint(std::string_view file, const std::string& name);

}  // namespace gwo::trainer

#endif  // GWO_WORKER_TRAINER_CHECKPOINT_FORMAT_H_
