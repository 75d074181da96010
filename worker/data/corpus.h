// A tokenized corpus split into training and validation tokens.
#ifndef GWO_WORKER_DATA_CORPUS_H_
#define GWO_WORKER_DATA_CORPUS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "spec/run_spec.h"

namespace gwo::data {

struct Corpus {
  std::vector<int32_t> train;           // tokens of the training documents, in listing order
  std::vector<int32_t> val;             // tokens of the validation documents, in listing order
  int vocab_size = 0;                   // ids are in [0, vocab_size)
  int64_t bytes = 0;                    // bytes read (<= max_bytes when that is set)
  std::vector<std::string> train_docs;  // document paths relative to DataSpec::path
  std::vector<std::string> val_docs;    // (with one document: its name in both)
};

// True when the document at `relative_path` belongs to the validation split: a
// stable hash (FNV-1a 64) of the path, mapped to [0, 1), is below `val_fraction`.
bool IsValidationDocument(std::string_view relative_path, double val_fraction);

// Reads the files of ListCorpusFiles(data.path, data.glob) in that order until
// data.max_bytes bytes (0: all; the last file may be cut), then splits by document:
// IsValidationDocument decides each non-empty document, and when there are >= 2
// documents at least one lands on each side (the lowest-hash one goes to validation,
// the highest-hash one to training, when a side would be empty). A single document is
// split by bytes at (1 - val_fraction) of its length. Documents are concatenated
// without separators and tokenized with data.tokenizer (only "byte" for now).
// Errors: those of ListCorpusFiles; INVALID_ARGUMENT for an unknown tokenizer, a
// corpus with no bytes, or a train or val split with fewer than block_size + 1 tokens
// (one training window); INTERNAL when a file cannot be read.
absl::StatusOr<Corpus> LoadCorpus(const spec::DataSpec& data, int block_size = 0);

}  // namespace gwo::data

#endif  // GWO_WORKER_DATA_CORPUS_H_
