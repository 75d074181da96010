#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "spec/experiment_spec.h"

namespace gwo::spec {

std::vector<RunSpec> ExpandRuns(const ExperimentSpec& spec) {
  std::vector<RunSpec> runs;
  runs.reserve(spec.datasets.size() * spec.variants.size() * spec.seeds.size());
  for (const DataSpec& data : spec.datasets) {
    for (const Variant& variant : spec.variants) {
      for (int64_t seed : spec.seeds) {
        RunSpec run;
        run.experiment = spec.name;
        run.variant = variant.name;
        run.seed = seed;
        run.max_restarts = spec.max_restarts;
        run.model = spec.model;
        if (variant.init.has_value()) {
          run.model.init = variant.init->init;
          run.model.init_from_run = variant.init->init_from_run;
          run.model.init_checkpoint = variant.init->init_checkpoint;
          run.model.init_from_variant = variant.init->init_from_variant;
          run.model.init_location = variant.init->init_location;
        }
        run.attention = variant.attention;
        run.data = data;
        run.training = variant.training;
        runs.push_back(std::move(run));
      }
    }
  }
  return runs;
}

std::string RunName(const RunSpec& run) {
  return absl::StrCat(run.variant, "/", run.data.name, "/seed", run.seed);
}

const std::vector<std::string>& CorpusRecipes() {
  static const auto* recipes = new std::vector<std::string>{"brown", "python-stdlib", "math-synth", "spam"};
  return *recipes;
}

std::string CorporaDir() {
  if (const char* env = std::getenv("GWO_CORPORA_DIR"); env != nullptr && *env != '\0') return env;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg != '\0') {
    return absl::StrCat(xdg, "/gwo/corpora");
  }
  const char* home = std::getenv("HOME");
  return absl::StrCat(home != nullptr ? home : "/tmp", "/.cache/gwo/corpora");
}

}  // namespace gwo::spec
