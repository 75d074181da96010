// Typed descriptions of what gwo runs. A RunSpec is the fully expanded, validated
// description of one run: the coordinator stores it, the worker hands it to
// gwo-train, and a finished run's checkpoint embeds it.
#ifndef GWO_SPEC_RUN_SPEC_H_
#define GWO_SPEC_RUN_SPEC_H_

#include <cstdint>
#include <string>
#include <vector>

#include "spec/training_modes.h"

namespace gwo::spec {

// Where a value came from in a YAML file (1-based; 0 when unknown).
struct SourceLocation {
  int line = 0;
  int column = 0;
};

// Decoder-only transformer shape and where its weights start from.
struct ModelSpec {
  // "gpt2": learned positions, LayerNorm, GELU MLP, tied head.
  // "qwen3": RoPE, RMSNorm, grouped-query attention with q/k RMSNorm, SwiGLU MLP.
  std::string arch = "gpt2";
  int n_layer = 2;              // transformer blocks
  int n_head = 2;               // attention (query) heads
  int n_embd = 64;              // residual width
  int block_size = 64;          // context length in tokens
  double dropout = 0.0;         // on attention probabilities and residual branches
  int n_kv_head = 0;            // qwen3: key/value heads, dividing n_head; 0: n_head
  int head_dim = 0;             // per-head width; 0: n_embd / n_head (which must then divide)
  int intermediate_size = 0;    // MLP hidden width; 0: 4 * n_embd
  double rope_theta = 1000000;  // qwen3: RoPE base
  double norm_eps = 0;          // LayerNorm/RMSNorm epsilon; 0: 1e-5 (gpt2), 1e-6 (qwen3)
  bool tie_embeddings = true;   // LM head shares the token embedding
  int vocab_size = 0;           // 0: the tokenizer's vocabulary size
  // Initial weights: "scratch" (random, from the seed), or a checkpoint path: an HF
  // model directory (config.json + model.safetensors), a .safetensors file, or a
  // gwo checkpoint. In a job.yaml, `init: {from_run: ID, checkpoint: final|best}`
  // names another run; the coordinator resolves it into its checkpoint's path.
  std::string init = "scratch";
  int64_t init_from_run = 0;         // the run `init` was resolved from (0: none)
  std::string init_checkpoint = "final";  // with from_run: "final" or "best"
  // A stage: `init: {from_variant: NAME, checkpoint: final|best}` starts from the run of
  // variant NAME with the same dataset and seed. The run waits until that run has
  // succeeded; the coordinator then resolves `init` (and init_from_run) from it.
  std::string init_from_variant;
  SourceLocation init_location;           // where `init` was written; not serialized
};

// Options of each attention kind (worker/attention/<kind>.cc states the math). In
// YAML they sit flat next to `kind:`; only the options of the named kind are accepted
// (spec/parse_attention.cc). A variant that names another kind starts from that
// kind's defaults.
struct FactorizedOptions {
  int rank = 0;            // interaction rank r of q_w1, q_w2, k_w3, k_w4; 0: head_dim
  double gate_init = -2.0; // initial alpha_q, alpha_k (pre-sigmoid; gate ~0.12)
};
struct SlidingWindowOptions {
  int window = 64;      // keys t-window+1 .. t are visible to query t
  int sink_tokens = 0;  // the first N keys are visible to every query too
};
struct MaskMixtureOptions {
  std::vector<int> windows = {16, 64};  // one sliding-window mask per size
  int stride = 8;        // strided mask: keys with (t - s) % stride == 0; 0: none
  int sink_tokens = 4;   // sink mask: keys s < N (and the diagonal); 0: none
  std::string per = "head";  // mixture weights per "head" or one set per "layer"
};
struct LearnedMaskOptions {
  int block = 16;  // key block size the gating network scores
  int top_k = 4;   // past blocks kept per query (the query's own block is always kept)
  std::string relaxation = "straight_through";  // or "soft" (kept blocks weighted by their gate)
};
struct PerformerOptions {
  int features = 64;            // random features m
  int64_t redraw_interval = 0;  // redraw the features every N training forwards; 0: never
};
struct NsaOptions {
  int block = 16;           // compression and selection block length
  int stride = 16;          // step between compressed blocks (<= block)
  int selected_blocks = 4;  // blocks the selection branch keeps per query (incl. its own)
  int window = 64;          // sliding-window branch width
};
struct LinearOptions {
  std::string normalize = "count";  // "count": divide by the number of keys t+1; "none"
};

// Which attention variant each block uses (kinds: see spec/attention_kinds.h).
struct AttentionSpec {
  std::string kind = "standard";
  FactorizedOptions factorized;
  SlidingWindowOptions sliding_window;
  MaskMixtureOptions mask_mixture;
  LearnedMaskOptions learned_mask;
  PerformerOptions performer;
  NsaOptions nsa;
  LinearOptions linear;
};

// A corpus and how it is tokenized and split.
struct DataSpec {
  std::string name = "data";      // dataset name, used in run names and reports
  // A corpus prepared by deploy/prepare-corpora.sh under the corpora directory
  // ($GWO_CORPORA_DIR): "brown", "python-stdlib", "math-synth" or "spam". It sets
  // path and format; otherwise `path` is required.
  std::string recipe;
  std::string path;               // a file, or a directory searched recursively
  std::string glob = "*";         // for a directory: file-name pattern (fnmatch)
  // "text": each file is a document. "jsonl": each line is a JSON object and
  // `field` its document. "tagged": word/TAG tokens (Brown corpus), tags stripped.
  // "labelled_jsonl": like jsonl, with a class label in `label_field`.
  std::string format = "text";
  std::string field = "text";        // jsonl, labelled_jsonl: the text field
  std::string label_field = "label"; // labelled_jsonl: the label field
  // "byte" (vocabulary 256), "gpt2" (GPT-2 BPE, from the corpora directory), or a
  // path: a tokenizer.json (HF BPE) or a directory with encoder.json + vocab.bpe.
  std::string tokenizer = "byte";
  double val_fraction = 0.1;      // share of documents held out, in (0, 0.9]
  int64_t max_bytes = 0;          // read at most this many bytes (0: everything)
  // labelled_jsonl only: read at most this many bytes of each label's documents (0: no
  // per-label limit), so that a small sample of a corpus sorted by label holds every
  // label; the whole file is read (max_bytes still caps the total).
  int64_t max_bytes_per_label = 0;
  SourceLocation path_location;   // where `path` (or `recipe`) was written; not serialized
};

// Recipe names accepted in DataSpec::recipe.
const std::vector<std::string>& CorpusRecipes();

// Knowledge distillation from a frozen teacher: KL(P_teacher || P_student) on the
// next-token distributions. A teacher is named like ModelSpec::init: a checkpoint
// path, `{from_run: ID}` or `{from_variant: NAME}` (a stage, resolved by the
// coordinator once that run has succeeded). Empty teacher: no distillation.
struct DistillSpec {
  std::string teacher;                       // resolved checkpoint path
  int64_t teacher_from_run = 0;              // the run `teacher` was resolved from (0: none)
  std::string teacher_from_variant;          // a stage dependency (see ModelSpec)
  std::string teacher_checkpoint = "final";  // "final" or "best"
  SourceLocation teacher_location;           // where `teacher` was written; not serialized
  double weight = 1.0;       // of the KL term in the loss (0: teacher only for metrics)
  double temperature = 1.0;  // both distributions are softmax(logits / temperature)
};

// The optimisation loop.
struct TrainingSpec {
  int64_t steps = 200;         // optimizer steps
  int batch_size = 8;          // sequences per step
  // Sequences per forward/backward pass; 0: the whole batch. A step accumulates the
  // gradients of batch_size / micro_batch_size passes, so it is the same step with one
  // micro-batch's activations in memory.
  int micro_batch_size = 0;
  double lr = 3e-3;            // peak learning rate
  double min_lr = 3e-4;        // floor of the cosine decay
  int64_t warmup_steps = 20;   // linear warmup from 0 to lr
  double weight_decay = 0.1;   // AdamW decoupled decay on matrices
  double beta1 = 0.9;          // AdamW
  double beta2 = 0.95;         // AdamW
  double grad_clip = 1.0;      // global L2 norm clip; 0 disables
  int64_t eval_every = 50;     // validation every N steps (and at the last step)
  int eval_batches = 8;        // batches per validation
  int64_t log_every = 10;      // train_loss/lr every N steps
  std::string device = "auto"; // "auto" (cuda if present), "cpu" or "cuda"
  // Arithmetic of the forward and backward passes: "bf16" (autocast to bfloat16),
  // "fp16" (float16 with dynamic loss scaling; CUDA only), "tf32" (float32 storage,
  // TensorFloat-32 matmuls; CUDA only), "fp32", or "auto": bf16 on CUDA, fp32 on CPU.
  // Master weights, optimizer state, checkpoints and exports stay float32 whatever
  // the choice; normalisation statistics, softmax, losses and metrics run in float32.
  // gwo-train resolves "auto" before it starts and records the resolved value in
  // run.yaml and every checkpoint; a run does not resume across precisions.
  std::string precision = "auto";
  // Capture the whole training step (forward, backward, clipping, optimizer) in one
  // CUDA graph and replay it, where the step's shapes and host work are static (see
  // worker/trainer/step_graph.h for when it is not). Only how fast it runs, not what.
  bool cuda_graph = true;
  int64_t checkpoint_every = 0;  // training-state checkpoint every N steps (0: none but the final)
  int keep_checkpoints = 2;      // periodic checkpoints kept on disk (the newest ones)
  int threads = 1;             // CPU threads of the trainer (LibTorch and BLAS); 0: library default
  DistillSpec distill;         // parsed from `training.distill`
  double lm_weight = 1.0;      // of the next-token cross-entropy in the loss
  TrainableSpec trainable;     // training_modes.h
  OptimizerSpec optimizer;
  SideBySideSpec side_by_side;
  MetricsSpec metrics;
  GenerateSpec generate;
  IclSpec icl;
};

struct RunSpec {
  std::string experiment;  // experiment name
  std::string variant;     // variant name
  int64_t seed = 0;        // seeds weights, data order and dropout
  int max_restarts = 3;    // attempts after the first, on worker loss
  ModelSpec model;
  AttentionSpec attention;
  DataSpec data;
  TrainingSpec training;
};

// The directory recipes and the "gpt2" tokenizer files live in: $GWO_CORPORA_DIR,
// else $XDG_CACHE_HOME/gwo/corpora, else ~/.cache/gwo/corpora.
std::string CorporaDir();

}  // namespace gwo::spec

#endif  // GWO_SPEC_RUN_SPEC_H_
