// Checks of a parsed experiment spec that need the filesystem: every dataset must
// name a non-empty corpus. Errors point at the dataset's `path:` in the file.
#ifndef GWO_SERVER_SUBMIT_CHECK_H_
#define GWO_SERVER_SUBMIT_CHECK_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "server/store/store.h"
#include "spec/experiment_spec.h"

namespace gwo::server {

// INVALID_ARGUMENT "file:line:column: datasets[i].path: ..." when a dataset's
// path is missing, matches no file, or its files hold no bytes. A recipe dataset
// is checked when the recipe is prepared on this host (the workers' hosts are
// where it must be; gwo-train says so when it is not).
absl::Status CheckCorpora(const spec::ExperimentSpec& spec, const std::string& file_name);

// Resolves `model.init: {from_run: N, checkpoint: final|best}` into the path of that
// run's checkpoint. INVALID_ARGUMENT naming the position when run N does not exist
// (or `visible`, when given, says the submitter may not read it);
// FAILED_PRECONDITION when it has not succeeded or has no outputs on record.
absl::Status ResolveInitFromRun(Store& store, const std::string& file_name, spec::ModelSpec* model,
                                const std::function<bool(int64_t)>& visible = {});

// The same for `training.distill.teacher: {from_run: N, checkpoint: final|best}`
// (errors name training.distill.teacher.from_run).
absl::Status ResolveTeacherFromRun(Store& store, const std::string& file_name, spec::DistillSpec* distill,
                                   const std::function<bool(int64_t)>& visible = {});

// The checkpoint file a succeeded run leaves in its output directory.
std::string RunCheckpointPath(const std::string& output_dir, const std::string& which);

}  // namespace gwo::server

#endif  // GWO_SERVER_SUBMIT_CHECK_H_
