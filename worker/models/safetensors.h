// The safetensors file format (free of LibTorch), as HF's `safetensors` reads and
// writes it:
//
//   header_len   uint64 little-endian
//   header       header_len bytes of JSON: {"NAME": {"dtype": "F32", "shape": [..],
//                "data_offsets": [begin, end]}, ..., "__metadata__": {"key": "value"}},
//                padded with spaces
//   data         the tensors' bytes, row-major, little-endian; offsets are relative
//                to the start of this section, which the tensors cover without gaps
//
// gwo adds three metadata keys to the files it writes: gwo_format ("1"),
// gwo_checksum (FNV-1a 64 of the data section, 16 lowercase hex digits) and, for
// model checkpoints, gwo_run_spec. A reader verifies gwo_checksum when present.
#ifndef GWO_WORKER_MODELS_SAFETENSORS_H_
#define GWO_WORKER_MODELS_SAFETENSORS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "worker/data/file_io.h"

namespace gwo::models {

// Header lengths above this are refused (HF's reader has the same cap).
inline constexpr uint64_t kMaxSafetensorsHeader = 100'000'000;
inline constexpr char kGwoFormatKey[] = "gwo_format";
inline constexpr char kGwoFormatVersion[] = "1";
inline constexpr char kGwoChecksumKey[] = "gwo_checksum";

enum class Dtype { kF32, kF16, kBF16, kI64 };

const char* DtypeName(Dtype dtype);  // "F32", "F16", "BF16", "I64"
int DtypeSize(Dtype dtype);          // bytes per element

struct TensorInfo {
  std::string name;
  Dtype dtype = Dtype::kF32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets within the data section, [begin, end)
  uint64_t end = 0;
};

struct SafetensorsReadOptions {
  // Accept I64 tensors besides F32/F16/BF16 (token ids in test fixtures); model
  // weights never need it.
  bool allow_int64 = false;
};

// A validated view of a safetensors file's bytes. The bytes are memory-mapped (Open)
// or owned (Parse); tensor data views stay valid while this object lives.
class SafetensorsFile {
 public:
  // Maps and validates `path`. NOT_FOUND when it does not exist; DATA_LOSS when it
  // is not a valid safetensors file: shorter than 8 bytes, a header length past the
  // end of the file or above kMaxSafetensorsHeader, a header that is not a JSON
  // object of tensor entries, a dtype other than F32/F16/BF16 (error names the tensor
  // and the dtype), a shape whose element count does not match its byte range,
  // offsets outside the data section, overlapping tensors or gaps between them, or a
  // gwo_checksum that does not match; FAILED_PRECONDITION for a gwo_format this build
  // cannot read. Every message starts with `path`. Never crashes on bad bytes (but a
  // file truncated by someone else while mapped raises SIGBUS, as with any mmap).
  static absl::StatusOr<std::unique_ptr<SafetensorsFile>> Open(
      const std::string& path, const SafetensorsReadOptions& options = {});

  // The same validation on bytes in memory; `name` prefixes error messages.
  static absl::StatusOr<std::unique_ptr<SafetensorsFile>> Parse(
      std::string bytes, const std::string& name, const SafetensorsReadOptions& options = {});

  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& name() const { return name_; }
  // Tensors sorted by name.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  // The tensor called `name`, or nullptr.
  const TensorInfo* Find(std::string_view name) const;
  // The string metadata of "__metadata__" (empty when absent).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // The bytes of `tensor` (one of tensors()).
  std::string_view Data(const TensorInfo& tensor) const;

 private:
  SafetensorsFile() = default;
  absl::Status Validate(const SafetensorsReadOptions& options);

  std::string name_;
  std::string owned_;                      // Parse: the bytes
  std::unique_ptr<data::MappedFile> map_;  // Open: the mapping
  std::string_view bytes_;                 // the whole file
  std::string_view data_;                  // the data section
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

// One tensor to write: `bytes` must hold product(shape) * DtypeSize(dtype) bytes and
// stay valid until the write returns.
struct TensorToWrite {
  std::string name;
  Dtype dtype = Dtype::kF32;
  std::vector<int64_t> shape;
  std::string_view bytes;
};

// The header and data sections for `tensors`, laid out as HF's writer does: keys
// sorted, data in name order, header padded with spaces to a multiple of 8 bytes,
// metadata strings as given plus gwo_format and gwo_checksum. INVALID_ARGUMENT for
// duplicate or empty names, a reserved name ("__metadata__") or a byte count that
// does not match the shape.
struct EncodedSafetensors {
  std::string header;                  // the length prefix and the JSON header
  std::vector<std::string_view> data;  // the data section, in pieces
};
absl::StatusOr<EncodedSafetensors> EncodeSafetensors(std::vector<TensorToWrite> tensors,
                                                     std::map<std::string, std::string> metadata);

// Writes EncodeSafetensors(tensors, metadata) to `path` atomically through a
// data::AtomicFile (temporary file beside it, fsync, rename, fsync of the directory),
// streaming the tensors without copying them. Errors of EncodeSafetensors, or
// INTERNAL with the OS error (the temporary file is removed).
absl::Status WriteSafetensors(const std::string& path, std::vector<TensorToWrite> tensors,
                              std::map<std::string, std::string> metadata);

}  // namespace gwo::models

#endif  // GWO_WORKER_MODELS_SAFETENSORS_H_
