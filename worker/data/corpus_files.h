// Which files make up a corpus.
#ifndef GWO_WORKER_DATA_CORPUS_FILES_H_
#define GWO_WORKER_DATA_CORPUS_FILES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace gwo::data {

// Lists the documents of a corpus.
//   - `path` is a regular file (or a link to one): returns {path}; `glob` is ignored.
//   - `path` is a directory: returns every regular file below it, recursively, whose
//     file name (not its path) matches `glob` with fnmatch(3) and no flags, sorted
//     lexicographically by path. Links to directories are not followed (no cycles).
// Errors: NOT_FOUND when `path` does not exist; INVALID_ARGUMENT when `path` is
// neither a file nor a directory, or when no file matches; INTERNAL when the
// directory cannot be walked (the message names the entry).
absl::StatusOr<std::vector<std::string>> ListCorpusFiles(const std::string& path,
                                                         const std::string& glob);

}  // namespace gwo::data

#endif  // GWO_WORKER_DATA_CORPUS_FILES_H_
