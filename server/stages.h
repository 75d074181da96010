// Stages and resources of runs at submit and dispatch time: which runs a run
// depends on, resolving its stage references to checkpoint paths once those runs
// succeeded, and the GPU memory a run is estimated to need.
#ifndef GWO_SERVER_STAGES_H_
#define GWO_SERVER_STAGES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/store/store.h"
#include "spec/run_spec.h"

namespace gwo::server {

// Names of the runs `run` waits for: for model.init.from_variant and
// training.distill.teacher_from_variant, the run of that variant with the same
// dataset and seed (`<variant>/<dataset>/seed<seed>`). Sorted, no duplicates.
std::vector<std::string> StageDependencies(const spec::RunSpec& run);

// Rewrites the run spec `spec_yaml` with each stage reference resolved to the
// checkpoint of the dependency of that variant (`<output_dir>/final.ckpt` or
// `best.ckpt`), setting init_from_run / teacher_from_run. Returns the spec
// unchanged when it has no stage references. FAILED_PRECONDITION when a
// dependency has not succeeded or has no outputs on record; INVALID_ARGUMENT
// when the spec does not parse.
absl::StatusOr<std::string> ResolveStages(const std::string& spec_yaml, const std::vector<DependencyRecord>& deps);

// A rough lower bound of the GPU memory (bytes, per GPU) the run needs when it
// gives none: fp32 weights, gradients and AdamW moments (16 bytes a parameter),
// activations of one batch without attention probabilities (34 * n_embd * batch *
// block_size * n_layer * 2 bytes, as with fused attention kernels), logits, plus
// 1 GiB for the CUDA context. Vocabulary: vocab_size, else 256 for the byte
// tokenizer, else 50257. Kinds that materialise (B, nh, T, T) need more: such a run
// should name resources.gpu_memory_gb.
int64_t EstimateGpuMemoryBytes(const spec::RunSpec& run);

}  // namespace gwo::server

#endif  // GWO_SERVER_STAGES_H_
