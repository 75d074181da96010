// HF `config.json` (GPT2Config, Qwen3Config) to and from spec::ModelSpec (free of
// LibTorch).
#ifndef GWO_WORKER_MODELS_HF_CONFIG_H_
#define GWO_WORKER_MODELS_HF_CONFIG_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "spec/run_spec.h"

namespace gwo::models {

// The model shape described by an HF config: `path` is a model directory (its
// config.json is read) or the JSON file itself. Sets arch, n_layer, n_head, n_embd,
// block_size (n_positions / max_position_embeddings), n_kv_head, head_dim,
// intermediate_size, rope_theta, norm_eps, tie_embeddings and vocab_size, with HF's
// defaults for absent keys; leaves dropout and init as in a default ModelSpec.
// NOT_FOUND when the file is missing; INVALID_ARGUMENT (naming the file and key) for
// bad JSON, a model_type other than gpt2/qwen3, or options gwo does not implement
// (another activation, rope_scaling, attention biases, sliding windows, ...).
absl::StatusOr<spec::ModelSpec> ModelSpecFromHfConfig(const std::string& path);

// The same, on the JSON text; `name` prefixes error messages.
absl::StatusOr<spec::ModelSpec> ModelSpecFromHfConfigJson(std::string_view json,
                                                          const std::string& name);

// The safetensors files holding the weights of the HF model directory `dir`:
// dir/model.safetensors, or else the shards that dir/model.safetensors.index.json
// maps tensors to (each once, sorted). NOT_FOUND when the directory has neither;
// INVALID_ARGUMENT for an index that is not {"weight_map": {name: file}} or names a
// file outside the directory.
absl::StatusOr<std::vector<std::string>> WeightFiles(const std::string& dir);

// config.json text for a model of a resolved spec (see ResolveModelShape) whose
// weights are stored as `torch_dtype` ("float32", "bfloat16", "float16").
std::string HfConfigJson(const spec::ModelSpec& resolved, std::string_view torch_dtype);

// The fields in which two resolved specs describe different models, one
// "field: A vs B" line each (empty when they agree). block_size is compared for gpt2
// only: a qwen3 model may use a shorter context than its checkpoint was made for.
std::vector<std::string> ShapeDifferences(const spec::ModelSpec& a, const spec::ModelSpec& b);

}  // namespace gwo::models

#endif  // GWO_WORKER_MODELS_HF_CONFIG_H_
