// Where the files a job.yaml names may be: every path in a submitted spec (datasets'
// paths and tokenizers, model.init and distillation teachers given as paths) must lie
// beneath one of the coordinator's --path_roots. A path with a ".." component, a
// relative path, an absolute path outside the roots, and (where the path exists on
// the coordinator's host) a symbolic link leading outside them are refused. Paths the
// coordinator resolves itself (from_run, from_variant, recipes) are its own and not
// checked. No gRPC here.
#ifndef GWO_SERVER_PATH_ROOTS_H_
#define GWO_SERVER_PATH_ROOTS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "spec/experiment_spec.h"

namespace gwo::server {

// The roots the coordinator allows by default: the corpora directory (where
// deploy/prepare-corpora.sh puts corpora and the GPT-2 tokenizer), /usr/lib and
// /usr/share (world-readable system data such as the Python sources of the quickstart).
std::vector<std::string> DefaultPathRoots();

// OK when `path` lies beneath one of `roots` (see above); INVALID_ARGUMENT starting
// with `where` and saying why otherwise.
absl::Status CheckPathUnderRoots(const std::string& path, const std::vector<std::string>& roots,
                                 const std::string& where);

// Every path of the spec, each error naming file:line:column and the key. `roots`
// empty: no restriction.
absl::Status CheckSpecPaths(const spec::ExperimentSpec& spec, const std::vector<std::string>& roots,
                            const std::string& file_name);

}  // namespace gwo::server

#endif  // GWO_SERVER_PATH_ROOTS_H_
