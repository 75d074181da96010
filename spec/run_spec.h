// Typed descriptions of what gwo runs. A RunSpec is the fully expanded, validated
// description of one run: the coordinator stores it, the worker hands it to
// gwo-train, and a finished run's checkpoint embeds it.
#ifndef GWO_SPEC_RUN_SPEC_H_
#define GWO_SPEC_RUN_SPEC_H_

#include <cstdint>
#include <string>

namespace gwo::spec {

// Where a value came from in a YAML file (1-based; 0 when unknown).
struct SourceLocation {
  int line = 0;
  int column = 0;
};

// Decoder-only transformer shape.
struct ModelSpec {
  std::string arch = "gpt2";  // only "gpt2" so far
  int n_layer = 2;            // transformer blocks
  int n_head = 2;             // attention heads; must divide n_embd
  int n_embd = 64;            // residual width
  int block_size = 64;        // context length in tokens
  double dropout = 0.0;       // on attention probabilities and residual branches
};

// Which attention variant each block uses (kinds: see spec/attention_kinds.h).
struct AttentionSpec {
  std::string kind = "standard";
};

// A corpus and how it is tokenized and split.
struct DataSpec {
  std::string name = "data";      // dataset name, used in run names and reports
  std::string path;               // a text file, or a directory searched recursively
  std::string glob = "*";         // for a directory: file-name pattern (fnmatch)
  std::string tokenizer = "byte"; // only "byte" so far (vocabulary of 256)
  double val_fraction = 0.1;      // share of documents (files) held out, in (0, 1)
  int64_t max_bytes = 0;          // read at most this many bytes (0: everything)
  SourceLocation path_location;   // where `path` was written; not serialized
};

// The optimisation loop.
struct TrainingSpec {
  int64_t steps = 200;         // optimizer steps
  int batch_size = 8;          // sequences per step
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
  int threads = 1;             // CPU threads of the trainer (LibTorch and BLAS); 0: library default
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

// Vocabulary size of a tokenizer name accepted by the spec parser.
int TokenizerVocabSize(const std::string& tokenizer);

}  // namespace gwo::spec

#endif  // GWO_SPEC_RUN_SPEC_H_
