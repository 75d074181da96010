// A model's shape with every default resolved, and its parameter count in closed
// form (free of LibTorch: the coordinator may use it to report model sizes).
#ifndef GWO_WORKER_MODELS_MODEL_SHAPE_H_
#define GWO_WORKER_MODELS_MODEL_SHAPE_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "spec/run_spec.h"

namespace gwo::models {

// `spec` with its zero defaults filled in: vocab_size (spec.vocab_size when set, which
// must then be >= tokenizer_vocab, else tokenizer_vocab; a larger embedding than the
// tokenizer's vocabulary is common: GPT-2's 50304, Qwen3's 151936), head_dim
// (n_embd / n_head), n_kv_head (n_head), intermediate_size (4 * n_embd) and norm_eps
// (1e-5 gpt2, 1e-6 qwen3). INVALID_ARGUMENT, naming the field, for an unknown arch,
// non-positive sizes, n_head not dividing n_embd without head_dim, gpt2 with
// head_dim * n_head != n_embd or n_kv_head != n_head, n_kv_head not dividing n_head,
// an odd qwen3 head_dim (RoPE rotates pairs), rope_theta <= 0, or dropout outside [0, 1).
absl::StatusOr<spec::ModelSpec> ResolveModelShape(const spec::ModelSpec& spec, int tokenizer_vocab);

// Parameters of the model built from a resolved spec with standard attention
// (attention variants may add their own), counting a tied head once.
//   gpt2:  V*C + block*C + L*(4C + 3C^2+3C + C^2+C + 2*C*I + I + C) + 2C  [+ V*C untied]
//   qwen3: V*C + C + L*(2C + C*H*hd + 2*C*K*hd + H*hd*C + 2*hd + 3*C*I)   [+ V*C untied]
// with C = n_embd, L = n_layer, H = n_head, K = n_kv_head, I = intermediate_size.
int64_t ParameterCount(const spec::ModelSpec& resolved);

}  // namespace gwo::models

#endif  // GWO_WORKER_MODELS_MODEL_SHAPE_H_
