// Checks of a parsed experiment spec that need the filesystem: every dataset must
// name a non-empty corpus. Errors point at the dataset's `path:` in the file.
#ifndef GWO_SERVER_SUBMIT_CHECK_H_
#define GWO_SERVER_SUBMIT_CHECK_H_

#include <string>

#include "absl/status/status.h"
#include "spec/experiment_spec.h"

namespace gwo::server {

// INVALID_ARGUMENT "file:line:column: datasets[i].path: ..." when a dataset's
// path is missing, matches no file, or its files hold no bytes.
absl::Status CheckCorpora(const spec::ExperimentSpec& spec, const std::string& file_name);

}  // namespace gwo::server

#endif  // GWO_SERVER_SUBMIT_CHECK_H_
