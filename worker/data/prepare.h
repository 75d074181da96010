// Preparing recipes (recipes.h) offline: from the npm packages that
// deploy/prepare-corpora.sh installs, Debian's python3, and the math generator.
#ifndef GWO_WORKER_DATA_PREPARE_H_
#define GWO_WORKER_DATA_PREPARE_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "worker/data/recipes.h"

namespace gwo::data {

struct PrepareOptions {
  std::string corpora_dir;               // required
  std::string npm_dir;                   // node_modules; empty: <corpora_dir>/npm/node_modules
  std::string python_lib_root = "/usr/lib";  // where python3.X/ is looked for
  int64_t math_problems = 20000;         // math-synth: problems, levels 1, 2, 3 in turn
  uint64_t math_seed = 0;                // math-synth: GenerateMathProblem's seed
  bool force = false;                    // prepare again even when up to date
  std::function<void(const std::string&)> progress;  // one line per event; may be empty
};

struct PrepareResult {
  RecipeManifest manifest;
  bool up_to_date = false;  // it was already prepared, by this version, from the same source
};

// Prepares `recipe` (one of PreparableRecipes()) under options.corpora_dir, unless it
// is up to date. The recipe is built in a temporary directory beside it, manifest
// last, and swapped in with one rename, so readers see the old recipe or the new one;
// concurrent preparers serialise on <corpora_dir>/.prepare.lock.
// Errors: INVALID_ARGUMENT for an unknown recipe; NOT_FOUND when an npm package (the
// message names it and says to run deploy/prepare-corpora.sh) or python3's library is
// missing; FAILED_PRECONDITION for an npm package of the wrong version; INVALID_ARGUMENT
// for source data that does not parse (naming the file); INTERNAL on I/O failures.
absl::StatusOr<PrepareResult> PrepareRecipe(const std::string& recipe, const PrepareOptions& options);

// The spam recipe's text of one message: its Subject line (unfolded) and its body,
// other headers dropped: "Subject: <subject>\n\n<body>" (the body alone when there is
// no subject).
std::string SubjectAndBody(const std::string& message);

// A human-readable table of the recipes under `corpora_dir` (state, files, documents,
// bytes, source) and of its token cache (files and sizes), for `gwo-corpora stats`.
std::string CorporaReport(const std::string& corpora_dir);

}  // namespace gwo::data

#endif  // GWO_WORKER_DATA_PREPARE_H_
