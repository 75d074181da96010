#include "worker/data/file_io.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"

namespace gwo::data {
namespace {

absl::Status ErrnoError(const char* what, const std::string& path) {
  const int e = errno;
  if (e == ENOENT) return absl::NotFoundError(absl::StrCat(what, " '", path, "': ", std::strerror(e)));
  return absl::InternalError(absl::StrCat(what, " '", path, "': ", std::strerror(e)));
}

std::string DirectoryOf(const std::string& path) {
  const std::filesystem::path p(path);
  return p.has_parent_path() ? p.parent_path().string() : std::string(".");
}

}  // namespace

absl::StatusOr<std::string> ReadFileUpTo(const std::string& path, int64_t limit) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot open", path);
  std::string bytes;
  struct stat st;
  if (::fstat(fd, &st) == 0 && st.st_size > 0) {
    bytes.reserve(static_cast<size_t>(limit >= 0 ? std::min<int64_t>(limit, st.st_size) : st.st_size));
  }
  char buffer[1 << 16];
  while (limit < 0 || static_cast<int64_t>(bytes.size()) < limit) {
    size_t want = sizeof(buffer);
    if (limit >= 0) want = std::min<size_t>(want, static_cast<size_t>(limit) - bytes.size());
    const ssize_t n = ::read(fd, buffer, want);
    if (n < 0) {
      if (errno == EINTR) continue;
      const absl::Status status = ErrnoError("cannot read", path);
      ::close(fd);
      return status;
    }
    if (n == 0) break;
    bytes.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return bytes;
}

absl::StatusOr<std::unique_ptr<AtomicFile>> AtomicFile::Create(const std::string& path) {
  std::string temp = absl::StrCat(path, ".tmp.XXXXXX");
  const int fd = ::mkostemp(temp.data(), O_CLOEXEC);
  if (fd < 0) return absl::InternalError(absl::StrCat("cannot create a temporary file beside '", path, "': ", std::strerror(errno)));
  ::fchmod(fd, 0644);
  return std::unique_ptr<AtomicFile>(new AtomicFile(path, temp, fd));
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(temp_.c_str());
  }
}

absl::Status AtomicFile::Append(std::string_view bytes) {
  if (fd_ < 0) return absl::FailedPreconditionError(absl::StrCat("'", path_, "' is already committed"));
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("cannot write", temp_);
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status AtomicFile::Commit() {
  if (fd_ < 0) return absl::FailedPreconditionError(absl::StrCat("'", path_, "' is already committed"));
  absl::Status status;
  if (::fsync(fd_) != 0) status = ErrnoError("cannot fsync", temp_);
  if (::close(fd_) != 0 && status.ok()) status = ErrnoError("cannot close", temp_);
  fd_ = -1;
  if (status.ok() && ::rename(temp_.c_str(), path_.c_str()) != 0) {
    status = ErrnoError("cannot rename onto", path_);
  }
  if (!status.ok()) {
    ::unlink(temp_.c_str());
    return status;
  }
  const std::string dir = DirectoryOf(path_);
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return ErrnoError("cannot open directory", dir);
  if (::fsync(dir_fd) != 0) status = ErrnoError("cannot fsync directory", dir);
  ::close(dir_fd);
  return status;
}

absl::Status WriteFileAtomic(const std::string& path, std::string_view bytes) {
  absl::StatusOr<std::unique_ptr<AtomicFile>> file = AtomicFile::Create(path);
  if (!file.ok()) return file.status();
  if (absl::Status s = (*file)->Append(bytes); !s.ok()) return s;
  return (*file)->Commit();
}

absl::StatusOr<std::unique_ptr<FileLock>> FileLock::Acquire(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("cannot open lock file", path);
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    const absl::Status status = ErrnoError("cannot lock", path);
    ::close(fd);
    return status;
  }
  return std::unique_ptr<FileLock>(new FileLock(fd));
}

FileLock::~FileLock() { ::close(fd_); }  // closing the descriptor releases the lock

absl::StatusOr<std::unique_ptr<MappedFile>> MappedFile::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot open", path);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const absl::Status status = ErrnoError("cannot stat", path);
    ::close(fd);
    return status;
  }
  const auto size = static_cast<size_t>(st.st_size);
  void* data = nullptr;
  if (size > 0) {
    data = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
    if (data == MAP_FAILED) {
      const absl::Status status = ErrnoError("cannot map", path);
      ::close(fd);
      return status;
    }
  }
  ::close(fd);  // the mapping keeps the file alive
  return std::unique_ptr<MappedFile>(new MappedFile(static_cast<const char*>(data), size));
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<char*>(data_), size_);
}

}  // namespace gwo::data
