// The few file operations gwo-train needs, with errors as absl::Status.
#ifndef GWO_WORKER_TRAINER_FILE_IO_H_
#define GWO_WORKER_TRAINER_FILE_IO_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace gwo::trainer {

// Writes all of `bytes` to `fd`, retrying on EINTR and partial writes. INTERNAL with
// errno's text on failure (e.g. EPIPE when the reader has gone).
absl::Status WriteAll(int fd, std::string_view bytes);

// Replaces `path` with `bytes` atomically: writes a temporary file in the same
// directory, fsyncs it, renames it over `path` and fsyncs the directory. A reader sees
// the old file or the new one, never a mix. INTERNAL on any failure (the temporary
// file is removed).
absl::Status WriteFileAtomically(const std::string& path, std::string_view bytes);

// The whole content of `path`. NOT_FOUND when it does not exist, INTERNAL otherwise.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

}  // namespace gwo::trainer

#endif  // GWO_WORKER_TRAINER_FILE_IO_H_
