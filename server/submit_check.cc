#include "server/submit_check.h"

#include <sys/stat.h>

#include "common/run_layout.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "worker/data/corpus_files.h"
#include "worker/data/recipes.h"

namespace gwo::server {

absl::Status CheckCorpora(const spec::ExperimentSpec& spec, const std::string& file_name) {
  std::vector<std::string> errors;
  for (size_t i = 0; i < spec.datasets.size(); ++i) {
    spec::DataSpec d = spec.datasets[i];
    const std::string where =
        absl::StrCat(file_name, ":", d.path_location.line, ":", d.path_location.column, ": datasets[", i, "].",
                     d.recipe.empty() ? "path" : "recipe", ": ");
    if (!d.recipe.empty()) {
      // Recipes live on the workers' hosts; check the copy on this host when there is one.
      absl::StatusOr<spec::DataSpec> resolved = data::ResolveRecipe(d, spec::CorporaDir());
      if (!resolved.ok()) continue;
      d = *resolved;
    }
    absl::StatusOr<std::vector<std::string>> files = data::ListCorpusFiles(d.path, d.glob);
    if (!files.ok()) {
      errors.push_back(absl::StrCat(where, "expected a readable corpus: ", files.status().message()));
      continue;
    }
    int64_t bytes = 0;
    for (const std::string& f : *files) {
      struct stat st;
      if (stat(f.c_str(), &st) == 0) bytes += st.st_size;
    }
    if (bytes == 0) {
      errors.push_back(absl::StrCat(where, "empty corpus: the ", files->size(), " file(s) matching \"",
                                    d.glob, "\" under ", d.path, " hold no text"));
    }
  }
  if (errors.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));
}

std::string RunCheckpointPath(const std::string& output_dir, const std::string& which) {
  return which == "best" ? run_layout::Best(output_dir) : run_layout::Final(output_dir);
}

namespace {

// The checkpoint path of succeeded run `id`; `where` prefixes errors.
absl::StatusOr<std::string> SucceededRunCheckpoint(Store& store, const std::string& where, int64_t id,
                                                   const std::string& which,
                                                   const std::function<bool(int64_t)>& visible) {
  absl::StatusOr<RunRecord> run = store.GetRun(id);
  // Another project's run is answered like one that does not exist.
  if (absl::IsNotFound(run.status()) || (run.ok() && visible && !visible(id))) {
    return absl::InvalidArgumentError(absl::StrCat(where, "no run with id ", id));
  }
  if (!run.ok()) return run.status();
  if (run->state != RunState::kSucceeded) {
    return absl::FailedPreconditionError(absl::StrCat(where, "run ", run->id, " (", run->name, ") is ",
                                                      RunStateName(run->state), "; a run to start from must have succeeded"));
  }
  if (run->output_dir.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(where, "run ", run->id, " has no outputs on record"));
  }
  return RunCheckpointPath(run->output_dir, which);
}

}  // namespace

absl::Status ResolveInitFromRun(Store& store, const std::string& file_name, spec::ModelSpec* model,
                                const std::function<bool(int64_t)>& visible) {
  if (model->init_from_run == 0) return absl::OkStatus();
  const std::string where = absl::StrCat(file_name, ":", model->init_location.line, ":",
                                         model->init_location.column, ": model.init.from_run: ");
  absl::StatusOr<std::string> path =
      SucceededRunCheckpoint(store, where, model->init_from_run, model->init_checkpoint, visible);
  if (!path.ok()) return path.status();
  model->init = *path;
  return absl::OkStatus();
}

absl::Status ResolveTeacherFromRun(Store& store, const std::string& file_name, spec::DistillSpec* distill,
                                   const std::function<bool(int64_t)>& visible) {
  if (distill->teacher_from_run == 0) return absl::OkStatus();
  const std::string where = absl::StrCat(file_name, ":", distill->teacher_location.line, ":",
                                         distill->teacher_location.column,
                                         ": training.distill.teacher.from_run: ");
  absl::StatusOr<std::string> path =
      SucceededRunCheckpoint(store, where, distill->teacher_from_run, distill->teacher_checkpoint, visible);
  if (!path.ok()) return path.status();
  distill->teacher = *path;
  return absl::OkStatus();
}

}  // namespace gwo::server
