// The parts of a TrainingSpec that choose what trains, how, and what is measured
// besides the loss: parameter selection (full, LoRA, K/V only, name patterns), the
// optimizer, a second model trained side by side, and the evaluation extras
// (fidelity against the teacher, memory, generated samples, in-context learning).
// Parsed from `training.*` by spec/parse_training.cc.
#ifndef GWO_SPEC_TRAINING_MODES_H_
#define GWO_SPEC_TRAINING_MODES_H_

#include <cstdint>
#include <string>
#include <vector>

namespace gwo::spec {

// Low-rank adapters: W x + (alpha / rank) * B A dropout(x), A (rank, in), B (out, rank),
// B starting at zero so the adapted model starts equal to the base model.
struct LoraSpec {
  int rank = 8;
  double alpha = 16.0;
  double dropout = 0.0;  // on the adapter's input, while training
  // Linear modules that get an adapter, matched against the end of their module
  // path ("c_attn" matches h.0.attn.c_attn; "mlp.c_proj" only the MLP's). Empty: the
  // attention projections of the arch (gpt2: c_attn, attn.c_proj; qwen3: q_proj,
  // k_proj, v_proj, o_proj).
  std::vector<std::string> targets;
};

// Which parameters train (`training.trainable`).
struct TrainableSpec {
  // "full": every parameter. "lora": only the adapters (the base is frozen).
  // "kv_only": only the key and value projections (qwen3: k_proj, v_proj; gpt2: the
  // K and V rows of c_attn, the Q rows held fixed).
  std::string mode = "full";
  LoraSpec lora;
  // Parameter-name patterns (fnmatch, on names as in named_parameters(), e.g.
  // "h.*.attn.attention.*" for an attention variant's own parameters). With mode
  // full, only matching parameters train; with lora / kv_only, matching parameters
  // train as well. Empty: no restriction / nothing extra.
  std::vector<std::string> train;
  std::vector<std::string> freeze;  // patterns frozen whatever the mode says
};

// The update rule (`training.optimizer`).
struct OptimizerSpec {
  // "adamw", or "natural": AdamW whose per-layer learning rate is scaled by the
  // layer's attention energy (see worker/trainer/natural_optimizer.h).
  std::string name = "adamw";
  double natural_strength = 0.5;  // exponent beta of the energy ratio
  double natural_min_scale = 0.1;  // clamp of the per-layer factor
  double natural_max_scale = 10.0;
};

// A second model trained in the same process on the same batches
// (`training.side_by_side`); its metrics carry `prefix`.
struct SideBySideSpec {
  bool enabled = false;
  std::string attention_kind = "standard";  // the second model's attention
  OptimizerSpec optimizer;                  // the second model's optimizer
  std::string prefix = "b_";                // prepended to the second model's metric names
};

// Text generated from the trained model at the end of the run (`training.generate`).
struct GenerateSpec {
  std::vector<std::string> prompts;  // empty: no generation
  int max_new_tokens = 64;
  double temperature = 1.0;  // for the sampled continuation (greedy is always made too)
  int top_k = 0;             // 0: the whole vocabulary
};

// The in-context-learning comparison (`training.icl`): demonstrations in the prompt
// (with the reference model) against this run's fine-tuning, on labelled data.
// The demonstrations and queries are chosen and formatted by
// worker/trainer/icl_data.h (BuildIclTask), for the comparison and for the training.
struct IclSpec {
  bool enabled = false;
  int shots = 4;     // demonstrations per prompt
  int queries = 16;  // validation examples measured
  // What this run fine-tunes on. "demonstrations": every step is one batch of exactly
  // the `shots` demonstrations the comparison's prompt shows, formatted identically
  // (training.batch_size is not used); the dual-form setting. "corpus": language
  // modelling on the corpus text, like any run.
  std::string train_on = "demonstrations";
  // With train_on demonstrations: "label", the loss on the label's tokens only (the
  // answer); "sequence", the next-token loss on every token of each demonstration.
  std::string loss = "label";
};

// What is measured besides train/val loss (`training.metrics`).
struct MetricsSpec {
  // Peak memory of inference (batch 1, no grad) at these sequence lengths, measured
  // at the end; lengths above model.block_size are skipped with a log line.
  std::vector<int> memory_lengths;
  // Fidelity to the teacher (training.distill.teacher) at every evaluation: KL,
  // attention-probability MSE, attention-gradient cosine; measured on this many
  // validation batches. 0: off.
  int fidelity_batches = 1;
};

}  // namespace gwo::spec

#endif  // GWO_SPEC_TRAINING_MODES_H_
