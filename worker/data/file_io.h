// The file operations the data pipeline needs, with errors as absl::Status: bounded
// reads, atomic writes that several threads or processes may race on, an advisory
// lock, and a read-only memory map.
#ifndef GWO_WORKER_DATA_FILE_IO_H_
#define GWO_WORKER_DATA_FILE_IO_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace gwo::data {

// At most `limit` bytes of `path` from its start (limit < 0: all of it).
// NOT_FOUND when it does not exist; INTERNAL when it cannot be read.
absl::StatusOr<std::string> ReadFileUpTo(const std::string& path, int64_t limit);

// A file written under a unique temporary name beside `path` (mkstemp, so concurrent
// writers in any thread or process never share one) and renamed over `path` by
// Commit. Readers see the old file or the whole new one, never a part. Destroying an
// uncommitted AtomicFile removes its temporary file.
class AtomicFile {
 public:
  // Creates the temporary file (mode 0644). The directory must exist.
  // INTERNAL on failure.
  static absl::StatusOr<std::unique_ptr<AtomicFile>> Create(const std::string& path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // Appends `bytes`, retrying partial writes. INTERNAL on failure.
  absl::Status Append(std::string_view bytes);
  // fsyncs the file, renames it over the target and fsyncs the directory.
  // INTERNAL on failure (the temporary file is removed). Call at most once.
  absl::Status Commit();
  const std::string& temp_path() const { return temp_; }

 private:
  AtomicFile(std::string path, std::string temp, int fd) : path_(path), temp_(temp), fd_(fd) {}
  std::string path_;
  std::string temp_;
  int fd_ = -1;
};

// Replaces `path` with `bytes` through an AtomicFile.
absl::Status WriteFileAtomic(const std::string& path, std::string_view bytes);

// An exclusive advisory lock (flock(2)) on `path` (created if missing), held until
// destruction. Each Acquire opens its own descriptor, so it excludes other threads of
// this process as well as other processes. Blocks until the lock is free.
class FileLock {
 public:
  static absl::StatusOr<std::unique_ptr<FileLock>> Acquire(const std::string& path);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_;
};

// A whole file mapped read-only (MAP_SHARED, PROT_READ). The mapping stays valid
// after the file is renamed over or unlinked.
class MappedFile {
 public:
  // NOT_FOUND when `path` does not exist, INTERNAL on other failures. An empty
  // file maps to size() == 0 and data() == nullptr.
  static absl::StatusOr<std::unique_ptr<MappedFile>> Open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const char* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  MappedFile(const char* data, size_t size) : data_(data), size_(size) {}
  const char* data_;
  size_t size_;
};

}  // namespace gwo::data

#endif  // GWO_WORKER_DATA_FILE_IO_H_
