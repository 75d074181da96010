// Corpus readers: turn the files of a DataSpec into documents, by DataSpec::format.
#ifndef GWO_WORKER_DATA_READERS_H_
#define GWO_WORKER_DATA_READERS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "spec/run_spec.h"

namespace gwo::data {

struct Document {
  // The train/val split key, stable across runs and machines: the file's path
  // relative to DataSpec::path (its file name when `path` is a file); for jsonl and
  // labelled_jsonl "<that>:<line number>" (1-based, counting every physical line).
  std::string id;
  std::string text;   // what a language model trains on
  std::string label;  // labelled_jsonl: the class label (non-string JSON values as JSON text)
};

struct DocumentSet {
  std::vector<Document> documents;  // non-empty documents, in ListCorpusFiles order, then line order
  int64_t bytes = 0;                // sum of the documents' text sizes (<= max_bytes when set)
};

// Reads the documents of `data` (its `path` must be set: see ResolveRecipe) in file
// listing order, then line order, until data.max_bytes bytes of document text (0: all;
// the last document may be cut). Empty documents are dropped.
//   text:           each file is one document, its bytes as they are.
//   tagged:         each file is one document, word/TAG tokens rebuilt into prose (DetagText).
//   jsonl:          each non-blank line is a JSON object; its string member `field` is
//                   one document.
//   labelled_jsonl: as jsonl, plus `label_field` (string, number or bool) as the label.
// Errors: those of ListCorpusFiles; INVALID_ARGUMENT for an unknown format, and for a
// jsonl line that is not a JSON object, lacks `field` (or `label_field`), or whose
// `field` is not a string, naming "file:line"; INTERNAL when a file cannot be read.
absl::StatusOr<DocumentSet> ReadDocuments(const spec::DataSpec& data);

// Rebuilds readable text from word/TAG tokens (the Brown corpus's form C): each
// whitespace-separated token loses the text from its last '/' on (a token without a
// tag is kept whole); `` and '' become ", ` becomes '; no space before closing
// punctuation (, . ; : ! ? ) ] } and closing quotes) and none after opening brackets
// and quotes. Layout: a non-blank line is a sentence; a run of them is a paragraph
// (sentences joined by a space); paragraphs are separated by one blank line. The
// result ends with a newline unless it is empty.
std::string DetagText(std::string_view tagged);

}  // namespace gwo::data

#endif  // GWO_WORKER_DATA_READERS_H_
