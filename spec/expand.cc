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

int TokenizerVocabSize(const std::string& tokenizer) { return tokenizer == "byte" ? 256 : 0; }

}  // namespace gwo::spec
