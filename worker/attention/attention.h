// The interface every attention variant implements. A variant replaces the
// softmax(q k^T / sqrt(hd)) v step of a transformer block; the projections around
// it (c_attn, c_proj) belong to the model.
#ifndef GWO_WORKER_ATTENTION_ATTENTION_H_
#define GWO_WORKER_ATTENTION_ATTENTION_H_

#include <torch/nn/module.h>
#include <torch/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace gwo::attention {

// The model dimensions a variant is built for.
struct AttentionDims {
  int n_head = 0;        // heads per layer
  int head_dim = 0;      // hd = n_embd / n_head
  int block_size = 0;    // the longest sequence forward() will see
  double dropout = 0.0;  // on attention probabilities, while training
};

// What forward() recorded while capture is on, for the fidelity metrics (attention-
// probability MSE against a baseline, natural attention's energies, the dual-form
// experiment's extraction). Tensors are detached; undefined when not captured.
struct AttentionCapture {
  // (B, nh, T, T): the weights each query gave each key; rows sum to 1 over the
  // keys it may see, 0 on the future. Variants without an explicit softmax
  // (performer, linear) record the weights their output is equivalent to.
  torch::Tensor probs;
  // (B, nh, T, T): pre-softmax energies (q k^T * scale, plus any learned bias),
  // -inf where masked; undefined for variants that have none.
  torch::Tensor scores;
};

// A causal attention variant. Subclasses register their parameters and buffers in
// their constructor like any torch::nn::Module, so they are saved, moved and
// trained with the model that holds them.
//
// Where a variant's own parameters live (to select "the new attention parameters"
// by path): the model registers the variant as module "attention" of each block, so
// they are named
//   gpt2:  h.<N>.attn.attention.<name>                (HF: transformer.h.<N>.attn.attention.<name>)
//   qwen3: model.layers.<N>.self_attn.attention.<name>
// and nothing else in the model has ".attention." in its name. The kinds
// (worker/attention/<kind>.cc) and their parameters:
//   standard, natural, linear: none
//   factorized: ln_q.{weight,bias}, ln_k.*, q_w1.*, q_w2.*, q_out.*, k_w3.*, k_w4.*,
//               k_out.*, alpha_q, alpha_k, log_temperature
//   mask_mixture: mix_logits;  learned_mask: gate_q.*, gate_k.*
//   nsa: compress_k.*, compress_v.*, gate.*;  performer: buffer omega (not trained)
//
// Capture per kind: probs always; scores for standard, factorized, sliding_window,
// mask_mixture, learned_mask and natural (undefined for performer, nsa, linear). For
// linear, probs are signed weights whose rows need not sum to 1; for nsa, probs are
// the gate-weighted mix of its branches (approximate for the compressed branch).
// natural records scores on every forward, capture on or not (natural.h).
class Attention : public torch::nn::Module {
 public:
  explicit Attention(std::string name) : torch::nn::Module(std::move(name)) {}

  // q, k, v: (B, nh, T, hd) with T <= block_size, all on one device and dtype.
  // Returns (B, nh, T, hd): output position t depends only on positions <= t.
  // Throws c10::Error on invalid shapes (gwo-train catches at its entry point).
  virtual torch::Tensor forward(const torch::Tensor& q, const torch::Tensor& k,
                                const torch::Tensor& v) = 0;

  // Why this variant cannot run on `device` with `dtype` at sequence length `T`,
  // or nullopt when it can. Checked before training starts.
  virtual std::optional<std::string> Unsupported(const torch::Device& device, torch::Dtype dtype,
                                                 int64_t T) const = 0;

  // While on, every forward() replaces captured() with what it computed (taking the
  // plain reference path, so it costs (B, nh, T, T) memory). Off by default.
  void set_capture(bool on) {
    capture_ = on;
    if (!on) captured_ = {};
  }
  bool capture() const { return capture_; }
  const AttentionCapture& captured() const { return captured_; }

 protected:
  bool capture_ = false;
  AttentionCapture captured_;
};

}  // namespace gwo::attention

#endif  // GWO_WORKER_ATTENTION_ATTENTION_H_
