// Pieces of the spec parser that live in their own files (parse_stages.cc,
// parse_resources.cc); only parse.cc and those files include this header.
#ifndef GWO_SPEC_PARSE_INTERNAL_H_
#define GWO_SPEC_PARSE_INTERNAL_H_

#include <string>

#include "spec/experiment_spec.h"
#include "spec/yaml_reader.h"

namespace gwo::spec::internal {

// Reads `init:` of the mapping `r` into m's init fields. In a job.yaml
// (`job_yaml`): "scratch", a checkpoint path, `{from_run: ID}` or
// `{from_variant: NAME}` (exactly one of the two), with `checkpoint: final|best`.
// In a run spec: a path, or `{path, from_run?, from_variant?, checkpoint}` (the path
// is the resolved checkpoint; empty only while a stage is not resolved yet).
void ReadInit(MapReader& r, ErrorList* errors, ModelSpec* m, bool job_yaml);

// A variant's own `init:` (same forms as model.init in a job.yaml), stored in
// `v->init` when present.
void ReadVariantInit(MapReader& r, ErrorList* errors, Variant* v);

// Checks the stage references of every variant (init.from_variant and
// training.distill.teacher_from_variant): each must name another variant of the
// experiment, and the references must not form a cycle. Errors point at the
// reference ("file:line:column: variants[1].init.from_variant: ...").
void CheckStages(const ExperimentSpec& spec, ErrorList* errors);

// Writes `init` of a run spec (the inverse of ReadInit with job_yaml false).
void WriteInit(const ModelSpec& m, YAML::Emitter* out);

// The scale switch of a job.yaml (parse_scale.cc). `scales:` maps scale names to
// overrides (any keys of the job.yaml except name, scale and scales); `scale:` names
// the default. The scale `requested` (or, when empty, the file's `scale:`) is
// deep-merged into `root` and both keys are removed: mappings merge key by key, lists
// of mappings with `name` (variants, datasets) merge item by item by name (new names
// are appended), anything else is replaced. Merged values keep their own line and
// column, so later errors point at the override. Errors: scales not a mapping, an
// override not a mapping or touching name/scale/scales, no scale chosen, an unknown
// scale, a scale requested or named without `scales:`.
void ApplyScale(YAML::Node root, const std::string& requested, ErrorList* errors);

// Reads `resources:` of a job.yaml.
void ReadResources(const YAML::Node& node, ErrorList* errors, Resources* out);

}  // namespace gwo::spec::internal

#endif  // GWO_SPEC_PARSE_INTERNAL_H_
