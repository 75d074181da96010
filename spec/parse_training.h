// The training.* keys of training_modes.h and training.distill: their validating
// reader (called by parse.cc's ReadTraining) and their YAML form (RunSpecToYaml).
#ifndef GWO_SPEC_PARSE_TRAINING_H_
#define GWO_SPEC_PARSE_TRAINING_H_

#include "spec/run_spec.h"
#include "spec/yaml_reader.h"
#include "yaml-cpp/yaml.h"

namespace gwo::spec {

// Reads training.{lm_weight, distill, trainable, optimizer, side_by_side, metrics,
// generate, icl} from the `training` mapping `r` into `t` (keys absent keep t's values,
// so a variant's training overrides the experiment's), then checks them against each
// other and against t's loop fields. Errors go to `errors` with their position.
void ReadTrainingModes(MapReader& r, ErrorList* errors, TrainingSpec* t);

// Emits the keys ReadTrainingModes reads, into an open mapping, so that
// ParseRunSpec(RunSpecToYaml(r)) gives r back.
void EmitTrainingModes(YAML::Emitter& out, const TrainingSpec& t);

}  // namespace gwo::spec

#endif  // GWO_SPEC_PARSE_TRAINING_H_
