#include "worker/models/model_shape.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace gwo::models {

absl::StatusOr<spec::ModelSpec> ResolveModelShape(const spec::ModelSpec& spec,
                                                  int tokenizer_vocab) {
  spec::ModelSpec m = spec;
  auto invalid = [&](auto&&... parts) {
    return absl::InvalidArgumentError(absl::StrCat("model (", m.arch, "): ", parts...));
  };
  const bool gpt2 = m.arch == "gpt2", qwen3 = m.arch == "qwen3";
  if (!gpt2 && !qwen3) {
    return absl::InvalidArgumentError(
        absl::StrCat("model arch '", m.arch, "' is not one of gpt2, qwen3"));
  }
  if (m.n_layer <= 0 || m.n_head <= 0 || m.n_embd <= 0 || m.block_size <= 0) {
    return invalid("sizes must be positive: n_layer ", m.n_layer, ", n_head ", m.n_head,
                   ", n_embd ", m.n_embd, ", block_size ", m.block_size);
  }
  if (m.vocab_size < 0 || tokenizer_vocab < 0 || (m.vocab_size == 0 && tokenizer_vocab == 0)) {
    return invalid("vocab_size must be positive, got ", m.vocab_size,
                   " (tokenizer: ", tokenizer_vocab, ")");
  }
  if (m.vocab_size == 0) m.vocab_size = tokenizer_vocab;
  if (m.vocab_size < tokenizer_vocab) {
    return invalid("vocab_size ", m.vocab_size, " is smaller than the tokenizer's vocabulary (",
                   tokenizer_vocab, ")");
  }
  if (m.head_dim < 0 || m.n_kv_head < 0 || m.intermediate_size < 0 || m.norm_eps < 0) {
    return invalid("head_dim, n_kv_head, intermediate_size and norm_eps must not be negative");
  }
  if (m.head_dim == 0) {
    if (m.n_embd % m.n_head != 0) {
      return invalid("n_head ", m.n_head, " does not divide n_embd ", m.n_embd,
                     " (set head_dim to decouple them)");
    }
    m.head_dim = m.n_embd / m.n_head;
  }
  if (m.n_kv_head == 0) m.n_kv_head = m.n_head;
  if (m.intermediate_size == 0) m.intermediate_size = 4 * m.n_embd;
  if (m.norm_eps == 0) m.norm_eps = gpt2 ? 1e-5 : 1e-6;
  if (m.n_head % m.n_kv_head != 0) {
    return invalid("n_kv_head ", m.n_kv_head, " does not divide n_head ", m.n_head);
  }
  if (gpt2 && m.head_dim * m.n_head != m.n_embd) {
    return invalid("gpt2 needs head_dim * n_head == n_embd, got ", m.head_dim, " * ", m.n_head,
                   " != ", m.n_embd);
  }
  if (gpt2 && m.n_kv_head != m.n_head) {
    return invalid("gpt2 has no grouped-query attention: n_kv_head ", m.n_kv_head, " != n_head ",
                   m.n_head);
  }
  if (qwen3 && m.head_dim % 2 != 0) {
    return invalid("RoPE needs an even head_dim, got ", m.head_dim);
  }
  if (qwen3 && !(m.rope_theta > 0))
    return invalid("rope_theta must be positive, got ", m.rope_theta);
  if (!(m.dropout >= 0.0 && m.dropout < 1.0)) {
    return invalid("dropout must be in [0, 1), got ", m.dropout);
  }
  return m;
}

int64_t ParameterCount(const spec::ModelSpec& m) {
  const int64_t V = m.vocab_size, C = m.n_embd, L = m.n_layer, I = m.intermediate_size;
  const int64_t head = m.tie_embeddings ? 0 : V * C;
  if (m.arch == "gpt2") {
    const int64_t per_block = 4 * C                     // ln_1, ln_2
                              + 3 * C * C + 3 * C       // c_attn
                              + C * C + C               // attn.c_proj
                              + C * I + I + I * C + C;  // c_fc, mlp.c_proj
    return V * C + int64_t{m.block_size} * C + L * per_block + 2 * C + head;
  }
  const int64_t q = int64_t{m.n_head} * m.head_dim, kv = int64_t{m.n_kv_head} * m.head_dim;
  const int64_t per_block = 2 * C                 // input_layernorm, post_attention_layernorm
                            + C * q + 2 * C * kv  // q_proj, k_proj, v_proj
                            + q * C               // o_proj
                            + 2 * m.head_dim      // q_norm, k_norm
                            + 3 * C * I;          // gate_proj, up_proj, down_proj
  return V * C + C + L * per_block + head;
}

}  // namespace gwo::models
