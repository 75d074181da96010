// The experiment spec (job.yaml) and its expansion into runs.
#ifndef GWO_SPEC_EXPERIMENT_SPEC_H_
#define GWO_SPEC_EXPERIMENT_SPEC_H_

#include <cstdint>
#include <string>
#include <vector>

#include "spec/run_spec.h"

namespace gwo::spec {

// A named attention configuration with its training overrides.
struct Variant {
  std::string name;
  AttentionSpec attention;  // the experiment's `attention:` unless overridden
  TrainingSpec training;    // the experiment's `training:` with overrides applied
};

struct Resources {
  int gpus = 0;      // GPUs per run; 0 runs on CPU
  int priority = 0;  // higher runs first
};

struct ExperimentSpec {
  std::string name;
  std::string description;
  std::vector<DataSpec> datasets;  // at least one
  ModelSpec model;
  std::vector<Variant> variants;   // at least one; the first is the baseline
  std::vector<int64_t> seeds = {0};
  Resources resources;
  int max_restarts = 3;
};

// Expands datasets x variants x seeds into runs, in that nesting order.
std::vector<RunSpec> ExpandRuns(const ExperimentSpec& spec);

// `<variant>/<dataset>/seed<seed>`: unique within an experiment.
std::string RunName(const RunSpec& run);

}  // namespace gwo::spec

#endif  // GWO_SPEC_EXPERIMENT_SPEC_H_
