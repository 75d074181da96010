#include "worker/models/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <filesystem>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "worker/data/fnv1a.h"

namespace gwo::models {
namespace {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; gwo reads it in place");

using Json = nlohmann::json;

constexpr char kMetadataKey[] = "__metadata__";

std::optional<Dtype> DtypeFromName(std::string_view name) {
  for (Dtype d : {Dtype::kF32, Dtype::kF16, Dtype::kBF16, Dtype::kI64}) {
    if (name == DtypeName(d)) return d;
  }
  return std::nullopt;
}

std::string ChecksumHex(const std::vector<std::string_view>& pieces) {
  uint64_t h = data::kFnv1a64Offset;
  for (std::string_view piece : pieces) h = data::Fnv1a64Update(h, piece);
  return absl::StrFormat("%016x", h);
}

// Element count of `shape`, or nullopt on overflow.
std::optional<uint64_t> ElementCount(const std::vector<int64_t>& shape) {
  uint64_t n = 1;
  for (int64_t d : shape) {
    if (__builtin_mul_overflow(n, static_cast<uint64_t>(d), &n)) return std::nullopt;
  }
  return n;
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

// Parses one "NAME": {...} entry of the header into `out`.
absl::Status ParseEntry(const std::string& name, const Json& entry,
                        const SafetensorsReadOptions& options, TensorInfo& out) {
  out.name = name;
  if (!entry.is_object())
    return absl::DataLossError(absl::StrCat("tensor '", name, "' is not a JSON object"));
  const auto dtype = entry.find("dtype");
  if (dtype == entry.end() || !dtype->is_string()) {
    return absl::DataLossError(absl::StrCat("tensor '", name, "' has no string \"dtype\""));
  }
  const std::string dtype_name = dtype->get<std::string>();
  const std::optional<Dtype> parsed = DtypeFromName(dtype_name);
  if (!parsed.has_value() || (*parsed == Dtype::kI64 && !options.allow_int64)) {
    return absl::DataLossError(absl::StrCat("tensor '", name, "' has dtype ", dtype_name,
                                            "; gwo reads F32, F16 and BF16"));
  }
  out.dtype = *parsed;
  const auto shape = entry.find("shape");
  if (shape == entry.end() || !shape->is_array()) {
    return absl::DataLossError(absl::StrCat("tensor '", name, "' has no \"shape\" array"));
  }
  for (const Json& d : *shape) {
    if (!d.is_number_unsigned() || d.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      return absl::DataLossError(
          absl::StrCat("tensor '", name, "' has a shape entry that is not a size: ", d.dump()));
    }
    out.shape.push_back(d.get<int64_t>());
  }
  const auto offsets = entry.find("data_offsets");
  if (offsets == entry.end() || !offsets->is_array() || offsets->size() != 2 ||
      !(*offsets)[0].is_number_unsigned() || !(*offsets)[1].is_number_unsigned()) {
    return absl::DataLossError(
        absl::StrCat("tensor '", name, "' has no \"data_offsets\" [begin, end] of two sizes"));
  }
  out.begin = (*offsets)[0].get<uint64_t>();
  out.end = (*offsets)[1].get<uint64_t>();
  if (out.begin > out.end) {
    return absl::DataLossError(absl::StrCat("tensor '", name, "' has data_offsets [", out.begin,
                                            ", ", out.end, "] that end before they begin"));
  }
  const std::optional<uint64_t> count = ElementCount(out.shape);
  uint64_t bytes = 0;
  if (!count.has_value() ||
      __builtin_mul_overflow(*count, static_cast<uint64_t>(DtypeSize(out.dtype)), &bytes) ||
      bytes != out.end - out.begin) {
    return absl::DataLossError(absl::StrCat(
        "tensor '", name, "' of shape ", ShapeString(out.shape), " and dtype ", dtype_name,
        " needs ", count.has_value() ? absl::StrCat(bytes) : "too many",
        " bytes but data_offsets [", out.begin, ", ", out.end, "] hold ", out.end - out.begin));
  }
  return absl::OkStatus();
}

}  // namespace

const char* DtypeName(Dtype dtype) {
  switch (dtype) {
    case Dtype::kF32:
      return "F32";
    case Dtype::kF16:
      return "F16";
    case Dtype::kBF16:
      return "BF16";
    case Dtype::kI64:
      return "I64";
  }
  return "?";
}

int DtypeSize(Dtype dtype) {
  switch (dtype) {
    case Dtype::kF32:
      return 4;
    case Dtype::kF16:
      return 2;
    case Dtype::kBF16:
      return 2;
    case Dtype::kI64:
      return 8;
  }
  return 0;
}

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(
    const std::string& path, const SafetensorsReadOptions& options) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is a directory, not a safetensors file"));
  }
  absl::StatusOr<std::unique_ptr<data::MappedFile>> map = data::MappedFile::Open(path);
  if (!map.ok()) return map.status();
  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->name_ = path;
  file->map_ = *std::move(map);
  file->bytes_ = std::string_view(file->map_->data(), file->map_->size());
  if (absl::Status s = file->Validate(options); !s.ok()) return s;
  return file;
}

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Parse(
    std::string bytes, const std::string& name, const SafetensorsReadOptions& options) {
  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->name_ = name;
  file->owned_ = std::move(bytes);
  file->bytes_ = file->owned_;
  if (absl::Status s = file->Validate(options); !s.ok()) return s;
  return file;
}

SafetensorsFile::~SafetensorsFile() = default;

absl::Status SafetensorsFile::Validate(const SafetensorsReadOptions& options) {
  auto error = [&](absl::StatusCode code, absl::string_view message) {
    return absl::Status(code, absl::StrCat(name_, ": ", message));
  };
  auto data_loss = [&](absl::string_view message) {
    return error(absl::StatusCode::kDataLoss, message);
  };
  if (bytes_.size() < 8) {
    return data_loss(absl::StrCat("not a safetensors file: ", bytes_.size(),
                                  " bytes, shorter than the 8-byte header length"));
  }
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes_.data(), 8);  // little-endian (static_assert above)
  if (header_len > kMaxSafetensorsHeader) {
    return data_loss(absl::StrCat("header length ", header_len, " exceeds the limit of ",
                                  kMaxSafetensorsHeader, " bytes (corrupt or not safetensors)"));
  }
  if (header_len > bytes_.size() - 8) {
    return data_loss(absl::StrCat("truncated: the header needs ", header_len,
                                  " bytes but the file has ", bytes_.size() - 8,
                                  " after its length"));
  }
  const std::string_view header = bytes_.substr(8, header_len);
  data_ = bytes_.substr(8 + header_len);
  Json json;
  try {
    json = Json::parse(header.begin(), header.end());
  } catch (const Json::exception& e) {
    return data_loss(absl::StrCat("header is not valid JSON: ", e.what()));
  }
  if (!json.is_object()) return data_loss("header is not a JSON object");

  for (const auto& [key, value] : json.items()) {
    if (key == kMetadataKey) {
      if (!value.is_object()) return data_loss("__metadata__ is not a JSON object");
      for (const auto& [meta_key, meta_value] : value.items()) {
        if (!meta_value.is_string()) {
          return data_loss(absl::StrCat("__metadata__ value of '", meta_key, "' is not a string"));
        }
        metadata_[meta_key] = meta_value.get<std::string>();
      }
      continue;
    }
    TensorInfo info;
    if (absl::Status s = ParseEntry(key, value, options, info); !s.ok()) {
      return data_loss(s.message());
    }
    if (info.end > data_.size()) {
      return data_loss(absl::StrCat("tensor '", key, "' has data_offsets [", info.begin, ", ",
                                    info.end, "] past the end of the ", data_.size(),
                                    "-byte data section (truncated?)"));
    }
    tensors_.push_back(std::move(info));
  }

  // The tensors must tile the data section: no overlap, no gap, nothing after.
  std::vector<const TensorInfo*> by_offset;
  for (const TensorInfo& t : tensors_) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(), [](const TensorInfo* a, const TensorInfo* b) {
    return std::tie(a->begin, a->end) < std::tie(b->begin, b->end);
  });
  uint64_t expected = 0;
  const TensorInfo* previous = nullptr;
  for (const TensorInfo* t : by_offset) {
    if (t->begin < expected) {
      return data_loss(absl::StrCat("tensor '", t->name, "' (bytes ", t->begin, "..", t->end,
                                    ") overlaps tensor '", previous->name, "' (bytes ",
                                    previous->begin, "..", previous->end, ")"));
    }
    if (t->begin > expected) {
      return data_loss(absl::StrCat("bytes ", expected, "..", t->begin,
                                    " of the data section belong to no tensor (before '", t->name,
                                    "')"));
    }
    expected = t->end;
    previous = t;
  }
  if (expected != data_.size()) {
    return data_loss(absl::StrCat("the data section has ", data_.size(),
                                  " bytes but its tensors cover ", expected));
  }
  std::sort(tensors_.begin(), tensors_.end(),
            [](const TensorInfo& a, const TensorInfo& b) { return a.name < b.name; });

  if (auto it = metadata_.find(std::string(kGwoFormatKey));
      it != metadata_.end() && it->second != kGwoFormatVersion) {
    return error(absl::StatusCode::kFailedPrecondition,
                 absl::StrCat("gwo_format '", it->second, "' is not one this build reads (",
                              kGwoFormatVersion, ")"));
  }
  if (auto it = metadata_.find(std::string(kGwoChecksumKey)); it != metadata_.end()) {
    const std::string actual = ChecksumHex({data_});
    if (actual != it->second) {
      return data_loss(absl::StrCat("checksum mismatch: the data section hashes to ", actual,
                                    " but gwo_checksum says ", it->second));
    }
  }
  return absl::OkStatus();
}

const TensorInfo* SafetensorsFile::Find(std::string_view name) const {
  auto it = std::lower_bound(tensors_.begin(), tensors_.end(), name,
                             [](const TensorInfo& t, std::string_view n) { return t.name < n; });
  return it != tensors_.end() && it->name == name ? &*it : nullptr;
}

std::string_view SafetensorsFile::Data(const TensorInfo& tensor) const {
  return data_.substr(tensor.begin, tensor.end - tensor.begin);
}

absl::StatusOr<EncodedSafetensors> EncodeSafetensors(std::vector<TensorToWrite> tensors,
                                                     std::map<std::string, std::string> metadata) {
  std::sort(tensors.begin(), tensors.end(),
            [](const TensorToWrite& a, const TensorToWrite& b) { return a.name < b.name; });
  EncodedSafetensors out;
  Json header = Json::object();
  uint64_t offset = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorToWrite& t = tensors[i];
    if (t.name.empty() || t.name == kMetadataKey) {
      return absl::InvalidArgumentError(absl::StrCat("invalid tensor name '", t.name, "'"));
    }
    if (i > 0 && tensors[i - 1].name == t.name) {
      return absl::InvalidArgumentError(absl::StrCat("tensor '", t.name, "' is given twice"));
    }
    const std::optional<uint64_t> count = ElementCount(t.shape);
    if (!count.has_value() ||
        std::any_of(t.shape.begin(), t.shape.end(), [](int64_t d) { return d < 0; }) ||
        *count * DtypeSize(t.dtype) != t.bytes.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor '", t.name, "' of shape ", ShapeString(t.shape), " and dtype ",
                       DtypeName(t.dtype), " has ", t.bytes.size(), " bytes"));
    }
    header[t.name] = {{"dtype", DtypeName(t.dtype)},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
    out.data.push_back(t.bytes);
  }
  metadata[std::string(kGwoFormatKey)] = std::string(kGwoFormatVersion);
  metadata[std::string(kGwoChecksumKey)] = ChecksumHex(out.data);
  header[std::string(kMetadataKey)] = metadata;
  std::string json = header.dump(-1, ' ', false, Json::error_handler_t::replace);
  json.append((8 - json.size() % 8) % 8, ' ');  // the data section starts 8-byte aligned
  const uint64_t length = json.size();
  out.header.resize(8);
  std::memcpy(out.header.data(), &length, 8);
  out.header += json;
  return out;
}

absl::Status WriteSafetensors(const std::string& path, std::vector<TensorToWrite> tensors,
                              std::map<std::string, std::string> metadata) {
  absl::StatusOr<EncodedSafetensors> encoded =
      EncodeSafetensors(std::move(tensors), std::move(metadata));
  if (!encoded.ok()) return encoded.status();
  absl::StatusOr<std::unique_ptr<data::AtomicFile>> file = data::AtomicFile::Create(path);
  if (!file.ok()) return file.status();
  if (absl::Status s = (*file)->Append(encoded->header); !s.ok()) return s;
  for (std::string_view piece : encoded->data) {
    if (absl::Status s = (*file)->Append(piece); !s.ok()) return s;
  }
  return (*file)->Commit();
}

}  // namespace gwo::models
