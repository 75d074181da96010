// The experiment spec (job.yaml) and its expansion into runs.
#ifndef GWO_SPEC_EXPERIMENT_SPEC_H_
#define GWO_SPEC_EXPERIMENT_SPEC_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "spec/run_spec.h"

namespace gwo::spec {

// A named attention configuration with its training overrides.
struct Variant {
  std::string name;
  AttentionSpec attention;  // the experiment's `attention:` unless overridden
  TrainingSpec training;    // the experiment's `training:` with overrides applied
  // The variant's own `init:`, replacing the experiment's model.init (a stage
  // starting from another variant's run: `init: {from_variant: NAME}`). Only the
  // init* fields of the ModelSpec are used.
  std::optional<ModelSpec> init;
};

struct Resources {
  int gpus = 0;      // GPUs per run, all on one worker; 0 runs on CPU
  int priority = 0;  // higher runs first, and may preempt lower-priority runs
  // Fair-share group (a team or user): projects share the workers in proportion to
  // their weights (gwo-coordinator --project_weights).
  std::string project = "default";
  // GPU memory each of the run's GPUs must have; 0: estimated from the model
  // (EstimateGpuMemoryGb in server/), which is a rough lower bound.
  double gpu_memory_gb = 0;
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
