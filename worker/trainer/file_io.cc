#include "worker/trainer/file_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "worker/data/file_io.h"

namespace gwo::trainer {

absl::Status WriteAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(absl::StrCat("write to fd ", fd, ": ", std::strerror(errno)));
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

// One implementation of atomic writes and whole-file reads for all of worker/: the
// data library's (unique temporary names, safe across threads and processes).
absl::Status WriteFileAtomically(const std::string& path, std::string_view bytes) {
  return data::WriteFileAtomic(path, bytes);
}

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  return data::ReadFileUpTo(path, -1);
}

}  // namespace gwo::trainer
