// The periodic training-state checkpoints of a run, <out>/checkpoints/step-<N>.ckpt:
// naming, pruning, and finding the one to resume from. Free of LibTorch: a
// checkpoint is judged valid by its container (magic, version, lengths, checksum)
// and its embedded spec; train.cc loads the tensors.
#ifndef GWO_WORKER_TRAINER_CHECKPOINT_DIR_H_
#define GWO_WORKER_TRAINER_CHECKPOINT_DIR_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "spec/run_spec.h"
#include "worker/trainer/checkpoint_format.h"

namespace gwo::trainer {

// <dir>/step-<step>.ckpt
std::string CheckpointPath(const std::string& dir, int64_t step);

// The steps N of the files named step-<N>.ckpt in `dir`, highest first (other names,
// such as temporary or .corrupt files, are not checkpoints). Empty when `dir` does
// not exist; INTERNAL when it cannot be listed.
absl::StatusOr<std::vector<int64_t>> ListCheckpointSteps(const std::string& dir);

// Deletes the checkpoints of `dir` whose step is not among the `keep` highest.
// INTERNAL when one cannot be deleted.
absl::Status PruneCheckpoints(const std::string& dir, int keep);

// Deletes the checkpoints of `dir` with a step above `step` (all of them for -1), and
// leftover temporary files of writes that a killed process never renamed. A run
// continuing from `step` calls it so that what it writes next is never outranked by
// files of an abandoned future. INTERNAL when one cannot be deleted.
absl::Status RemoveCheckpointsAfter(const std::string& dir, int64_t step);

// A training-state checkpoint that a run may continue from.
struct ResumePoint {
  std::string path;
  spec::RunSpec spec;           // as embedded in the file
  CheckpointContents contents;  // checksum verified; contents.state_bytes is not empty
};

// Reads `path` as a checkpoint for a run with spec `given` to continue from. Errors:
// those of ReadFileToString and DecodeCheckpoint (DATA_LOSS for a corrupt or truncated
// file); INVALID_ARGUMENT when the embedded spec does not parse; FAILED_PRECONDITION
// when the file holds weights only (a final or best checkpoint) or its spec differs
// from `given` in a field that matters (the message lists each, see resume_spec.h).
absl::StatusOr<ResumePoint> ReadResumePoint(const std::string& path, const spec::RunSpec& given);

struct ResumeSearch {
  std::optional<ResumePoint> point;  // the newest valid checkpoint; nullopt when none
  std::vector<std::string> skipped;  // why each newer file was passed over, one line each
};

// The newest checkpoint of `dir` that ReadResumePoint accepts. A corrupt or truncated
// one (DATA_LOSS) is renamed to <file>.corrupt, reported in `skipped`, and the next
// older one is tried. Any other error of ReadResumePoint (another spec, a newer
// format, an I/O error) is returned: it needs a person, not a fallback.
absl::StatusOr<ResumeSearch> FindResumePoint(const std::string& dir, const spec::RunSpec& given);

// Where a run with spec `given` starts, by gwo-train's flags: from `resume_from` when
// it is not empty (ReadResumePoint; its errors as they are), else, when `resume`,
// from FindResumePoint(dir, given) (a spec mismatch's message then says how to start
// over), else from step 1 (point nullopt). INVALID_ARGUMENT for resume_from without
// resume.
absl::StatusOr<ResumeSearch> ChooseResumePoint(const std::string& dir, const spec::RunSpec& given,
                                               bool resume, const std::string& resume_from);

// For a run continuing from `resume_path` = <other>/checkpoints/step-N.ckpt in another
// directory: copies <other>/best.ckpt to <out>/best.ckpt (atomically, after checking
// it decodes), so that best.ckpt keeps meaning "the best weights of the run". Returns
// whether it copied; false when there is no such file, it is `out`'s own, or it is
// unreadable or corrupt.
bool AdoptBestCheckpoint(const std::string& resume_path, const std::string& out);

}  // namespace gwo::trainer

#endif  // GWO_WORKER_TRAINER_CHECKPOINT_DIR_H_
