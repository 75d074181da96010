#include "worker/trainer/checkpoint_format.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "worker/data/fnv1a.h"

namespace gwo::trainer {
namespace {

template <typename T>
void PutLittleEndian(T value, std::string& out) {
  for (size_t i = 0; i < sizeof(T); ++i)
    out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

// Reads fixed-size fields and length-prefixed blobs from the front of a buffer.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : rest_(bytes) {}
  size_t remaining() const { return rest_.size(); }

  template <typename T>
  bool Get(T& value) {
    if (rest_.size() < sizeof(T)) return false;
    value = 0;
    for (size_t i = 0; i < sizeof(T); ++i) {
      value |= static_cast<T>(static_cast<unsigned char>(rest_[i])) << (8 * i);
    }
    rest_.remove_prefix(sizeof(T));
    return true;
  }
  bool GetBlob(std::string& blob) {
    uint64_t length = 0;
    if (!Get(length) || length > rest_.size()) return false;
    blob.assign(rest_.substr(0, length));
    rest_.remove_prefix(length);
    return true;
  }

 private:
  std::string_view rest_;
};

}  // namespace

std::string EncodeCheckpoint(const CheckpointContents& contents) {
  std::string out(kCheckpointMagic);
  PutLittleEndian<uint32_t>(kCheckpointVersion, out);
  PutLittleEndian<uint64_t>(contents.spec_yaml.size(), out);
  out += contents.spec_yaml;
  PutLittleEndian<uint64_t>(contents.model_bytes.size(), out);
  out += contents.model_bytes;
  PutLittleEndian<uint64_t>(contents.state_bytes.size(), out);
  out += contents.state_bytes;
  PutLittleEndian<uint64_t>(data::Fnv1a64(out), out);
  return out;
}

absl::StatusOr<CheckpointContents> DecodeCheckpoint(std::string_view file,
                                                    const std::string& name) {
  if (file.substr(0, kCheckpointMagic.size()) != kCheckpointMagic) {
    return absl::DataLossError(absl::StrCat(name, ": not a gwo checkpoint (bad magic bytes)"));
  }
  Reader reader(file.substr(kCheckpointMagic.size()));
  uint32_t version = 0;
  if (!reader.Get(version)) {
    return absl::DataLossError(absl::StrCat(name, ": checkpoint is truncated (no version)"));
  }
  if (version == 0 || version > kCheckpointVersion) {
    return absl::FailedPreconditionError(absl::StrCat(name, ": checkpoint format version ", version,
                                                      " is not supported (this build reads 1 to ",
                                                      kCheckpointVersion, ")"));
  }
  CheckpointContents contents;
  uint64_t checksum = 0;
  if (!reader.GetBlob(contents.spec_yaml) || !reader.GetBlob(contents.model_bytes) ||
      (version >= 2 && !reader.GetBlob(contents.state_bytes)) || !reader.Get(checksum)) {
    return absl::DataLossError(absl::StrCat(
        name, ": checkpoint is truncated or corrupt (a length runs past the end of the file)"));
  }
  if (reader.remaining() != 0) {
    return absl::DataLossError(absl::StrCat(name, ": checkpoint is corrupt (", reader.remaining(),
                                            " bytes after the checksum)"));
  }
  if (data::Fnv1a64(file.substr(0, file.size() - sizeof(uint64_t))) != checksum) {
    return absl::DataLossError(absl::StrCat(name, ": checkpoint is corrupt (checksum mismatch)"));
  }
  return contents;
}

}  // namespace gwo::trainer
