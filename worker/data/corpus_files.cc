#include "worker/data/corpus_files.h"

#include <fnmatch.h>

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace gwo::data {

namespace fs = std::filesystem;

absl::StatusOr<std::vector<std::string>> ListCorpusFiles(const std::string& path,
                                                         const std::string& glob) {
  std::error_code ec;
  const fs::file_status root = fs::status(path, ec);
  if (ec || !fs::exists(root)) {
    return absl::NotFoundError(absl::StrCat("corpus path '", path, "' does not exist"));
  }
  if (fs::is_regular_file(root)) return std::vector<std::string>{path};
  if (!fs::is_directory(root)) {
    return absl::InvalidArgumentError(
        absl::StrCat("corpus path '", path, "' is neither a regular file nor a directory"));
  }

  std::vector<std::string> files;
  fs::recursive_directory_iterator it(path, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code entry_ec;
    if (!it->is_regular_file(entry_ec) || entry_ec) continue;
    const std::string name = it->path().filename().string();
    if (fnmatch(glob.c_str(), name.c_str(), 0) == 0) files.push_back(it->path().string());
  }
  if (ec) {
    return absl::InternalError(
        absl::StrCat("cannot list corpus directory '", path, "': ", ec.message()));
  }
  if (files.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("no file under corpus directory '", path, "' matches glob '", glob, "'"));
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace gwo::data
