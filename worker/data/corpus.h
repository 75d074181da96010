// A tokenized corpus split into training and validation tokens, and the labelled
// examples of a classification corpus, both split by document.
#ifndef GWO_WORKER_DATA_CORPUS_H_
#define GWO_WORKER_DATA_CORPUS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "spec/run_spec.h"
#include "worker/data/readers.h"
#include "worker/data/tokenizer.h"

namespace gwo::data {

struct Corpus {
  std::vector<int32_t> train;           // tokens of the training documents, in listing order
  std::vector<int32_t> val;             // tokens of the validation documents, in listing order
  int vocab_size = 0;                   // ids are in [0, vocab_size)
  int64_t bytes = 0;                    // bytes of document text read (<= max_bytes when set)
  std::vector<std::string> train_docs;  // Document::id of each side's documents
  std::vector<std::string> val_docs;    // (with one document: its id in both)
};

// True when the document with split key `id` (Document::id: a relative path, or
// "path:line" for JSONL) belongs to the validation split: a stable hash of the id
// (FNV-1a 64, then SplitMix64's finalizer so that ids differing only in their last
// characters spread evenly), mapped to [0, 1), is below `val_fraction`.
bool IsValidationDocument(std::string_view id, double val_fraction);

// The side of each document: IsValidationDocument, except that with >= 2 documents
// at least one lands on each side (the lowest-hash one goes to validation, the
// highest-hash one to training, when a side would be empty). true: validation.
std::vector<bool> SplitByDocument(const std::vector<Document>& documents, double val_fraction);

// Tokenizes `documents` into the two splits of SplitByDocument, in listing order,
// with tokenizer.end_of_text() (when it has one) between consecutive documents of a
// split, none before the first or after the last. A single document is split by
// bytes at (1 - val_fraction) of its length. INVALID_ARGUMENT when there is no
// document (the message names data.name and data.path).
absl::StatusOr<Corpus> TokenizeDocuments(const spec::DataSpec& data, const DocumentSet& documents,
                                         const Tokenizer& tokenizer);

// OK when both splits hold at least one training window (block_size + 1 tokens);
// INVALID_ARGUMENT naming the split, its size and what to change otherwise.
absl::Status CheckSplitSizes(const spec::DataSpec& data, int64_t train_tokens,
                             int64_t val_tokens, int block_size);

// `data` with its recipe resolved against spec::CorporaDir() when it names a recipe
// and no path (see ResolveRecipe); otherwise `data` itself.
absl::StatusOr<spec::DataSpec> ResolveForLoading(const spec::DataSpec& data);

// ReadDocuments (after ResolveForLoading), TokenizeDocuments with `tokenizer`, then
// CheckSplitSizes. Errors: those of the three, in that order.
absl::StatusOr<Corpus> LoadCorpus(const spec::DataSpec& data, const Tokenizer& tokenizer,
                                  int block_size);

// The byte-tokenizer form gwo-train uses until it loads tokenizers: as above with
// bytes as tokens (vocabulary 256, no separator between documents).
// INVALID_ARGUMENT when data.tokenizer is not "byte".
absl::StatusOr<Corpus> LoadCorpus(const spec::DataSpec& data, int block_size = 0);

struct LabelledExample {
  std::string id;     // Document::id ("path:line")
  std::string text;
  std::string label;
};

struct LabelledExamples {
  std::vector<LabelledExample> train;  // listing order
  std::vector<LabelledExample> val;    // listing order
};

// The examples of a labelled_jsonl corpus (after ResolveForLoading), split by
// SplitByDocument exactly as LoadCorpus splits the same spec's documents.
// INVALID_ARGUMENT when data.format is not labelled_jsonl or there are fewer than 2
// examples; otherwise the errors of ReadDocuments.
absl::StatusOr<LabelledExamples> LoadLabelledExamples(const spec::DataSpec& data);

}  // namespace gwo::data

#endif  // GWO_WORKER_DATA_CORPUS_H_
