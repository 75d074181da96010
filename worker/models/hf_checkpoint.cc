#include "worker/models/hf_checkpoint.h"

#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "spec/parse.h"
#include "worker/data/file_io.h"
#include "worker/models/hf_config.h"

namespace gwo::models {
namespace {

torch::ScalarType ScalarTypeOf(Dtype dtype) {
  switch (dtype) {
    case Dtype::kF32:
      return torch::kFloat32;
    case Dtype::kF16:
      return torch::kFloat16;
    case Dtype::kBF16:
      return torch::kBFloat16;
    case Dtype::kI64:
      return torch::kInt64;
  }
  return torch::kFloat32;
}

// The safetensors dtype a tensor of `type` is saved as (others are saved as F32).
Dtype SavedDtype(torch::ScalarType type) {
  if (type == torch::kFloat16) return Dtype::kF16;
  if (type == torch::kBFloat16) return Dtype::kBF16;
  return Dtype::kF32;
}

const char* TorchDtypeName(Dtype dtype) {
  if (dtype == Dtype::kF16) return "float16";
  if (dtype == Dtype::kBF16) return "bfloat16";
  return "float32";
}

std::string ShapeString(c10::IntArrayRef shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

// "what: a, b, c" with at most 10 names, then "... (N more)".
std::string NameList(const char* what, const std::vector<std::string>& names) {
  constexpr size_t kMax = 10;
  std::vector<std::string> shown(names.begin(), names.begin() + std::min(names.size(), kMax));
  std::string out = absl::StrCat(what, ": ", absl::StrJoin(shown, ", "));
  if (names.size() > kMax) absl::StrAppend(&out, " ... (", names.size() - kMax, " more)");
  return out;
}

struct FileTensor {
  const SafetensorsFile* file = nullptr;
  const TensorInfo* info = nullptr;
};

absl::Status LoadWeightsOrThrow(CausalLm& model, const std::string& path,
                                std::vector<std::string>* kept_initial) {
  std::error_code ec;
  std::vector<std::string> paths{path};
  if (std::filesystem::is_directory(path, ec)) {
    const std::string config = (std::filesystem::path(path) / "config.json").string();
    if (std::filesystem::exists(config, ec)) {
      absl::StatusOr<spec::ModelSpec> described = ModelSpecFromHfConfig(config);
      if (!described.ok()) return described.status();
      const std::vector<std::string> diff = ShapeDifferences(*described, model.spec());
      if (!diff.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(config, " describes another model than the spec (config vs spec): ",
                         absl::StrJoin(diff, "; ")));
      }
    }
    absl::StatusOr<std::vector<std::string>> files = WeightFiles(path);
    if (!files.ok()) return files.status();
    paths = *std::move(files);
  }

  std::vector<std::unique_ptr<SafetensorsFile>> files;
  std::map<std::string, FileTensor> in_files;  // by canonical name
  for (const std::string& file_path : paths) {
    absl::StatusOr<std::unique_ptr<SafetensorsFile>> file = SafetensorsFile::Open(file_path);
    if (!file.ok()) return file.status();
    for (const TensorInfo& info : (*file)->tensors()) {
      std::string name = model.CanonicalHfName(info.name);
      if (name.empty()) continue;
      if (in_files.count(name) > 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": tensor '", name, "' appears twice (as '",
                         in_files[name].info->name, "' and '", info.name, "')"));
      }
      in_files[name] = {file->get(), &info};
    }
    files.push_back(*std::move(file));
  }

  const std::vector<HfTensor> expected = model.HfTensors();
  std::vector<std::string> missing, misshaped, unexpected;
  std::vector<std::string> kept;  // attention-variant tensors the file lacks
  std::map<std::string, const HfTensor*> by_name;
  const HfTensor* embedding = nullptr;
  for (const HfTensor& t : expected) {
    by_name[t.name] = &t;
    if (t.tensor.is_same(model.token_embedding())) embedding = &t;
    auto it = in_files.find(t.name);
    if (it == in_files.end()) {
      if (IsAttentionVariantTensor(t.name)) {
        kept.push_back(t.name);
      } else {
        missing.push_back(t.name);
      }
      continue;
    }
    std::vector<int64_t> want = t.tensor.sizes().vec();
    if (t.transposed) std::reverse(want.begin(), want.end());
    if (it->second.info->shape != want) {
      misshaped.push_back(absl::StrCat(t.name, " is ", ShapeString(it->second.info->shape),
                                       " in the file, the model expects ", ShapeString(want)));
    }
  }
  for (const auto& [name, found] : in_files) {
    if (by_name.count(name) > 0) continue;
    if (name == "lm_head.weight" && model.spec().tie_embeddings && embedding != nullptr &&
        in_files.count(embedding->name) > 0) {
      // Some checkpoints store the tied head too; accept it only as the same bytes.
      const FileTensor& emb = in_files[embedding->name];
      if (found.info->shape == emb.info->shape && found.info->dtype == emb.info->dtype &&
          found.file->Data(*found.info) == emb.file->Data(*emb.info)) {
        continue;
      }
      unexpected.push_back(absl::StrCat(name, " (differs from the tied embedding ", embedding->name,
                                        "; set tie_embeddings: false to load it)"));
      continue;
    }
    unexpected.push_back(name);
  }
  if (!missing.empty() || !misshaped.empty() || !unexpected.empty()) {
    std::vector<std::string> parts;
    if (!missing.empty()) parts.push_back(NameList("missing tensors", missing));
    if (!misshaped.empty()) parts.push_back(NameList("mis-shaped tensors", misshaped));
    if (!unexpected.empty()) parts.push_back(NameList("unexpected tensors", unexpected));
    return absl::InvalidArgumentError(absl::StrCat(path, " does not fit the ", model.spec().arch,
                                                   " model: ", absl::StrJoin(parts, "; ")));
  }

  torch::NoGradGuard no_grad;
  for (const HfTensor& t : expected) {
    auto found = in_files.find(t.name);
    if (found == in_files.end()) continue;  // one of `kept`: keeps its initial value
    const FileTensor& source = found->second;
    torch::Tensor value = TensorFromSafetensors(*source.file, *source.info);
    if (t.transposed) value = value.t();
    torch::Tensor target = t.tensor;
    target.copy_(value);  // converts dtype, moves to the parameter's device
  }
  if (kept_initial != nullptr) kept_initial->insert(kept_initial->end(), kept.begin(), kept.end());
  return absl::OkStatus();
}

absl::Status SaveHfCheckpointOrThrow(const CausalLm& model, const spec::RunSpec& run,
                                     const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", dir, ": ", ec.message()));
  std::vector<torch::Tensor> keep_alive;  // the CPU copies the pieces point into
  std::vector<TensorToWrite> tensors;
  for (const HfTensor& t : model.HfTensors()) {
    torch::Tensor value = t.tensor.detach();
    if (t.transposed) value = value.t();
    const Dtype dtype = SavedDtype(value.scalar_type());
    value = value.to(torch::kCPU, ScalarTypeOf(dtype)).contiguous();
    keep_alive.push_back(value);
    tensors.push_back(
        {t.name, dtype, value.sizes().vec(),
         std::string_view(static_cast<const char*>(value.data_ptr()), value.nbytes())});
  }
  const Dtype dtype = SavedDtype(model.token_embedding().scalar_type());
  const std::filesystem::path root(dir);
  if (absl::Status s =
          WriteSafetensors((root / "model.safetensors").string(), std::move(tensors),
                           {{"format", "pt"}, {"gwo_run_spec", spec::RunSpecToYaml(run)}});
      !s.ok()) {
    return s;
  }
  const std::string config = HfConfigJson(model.spec(), TorchDtypeName(dtype));
  return data::WriteFileAtomic((root / "config.json").string(), config);
}

}  // namespace

torch::Tensor TensorFromSafetensors(const SafetensorsFile& file, const TensorInfo& tensor) {
  torch::Tensor out =
      torch::empty(tensor.shape, torch::TensorOptions().dtype(ScalarTypeOf(tensor.dtype)));
  const std::string_view bytes = file.Data(tensor);
  // A copy, not from_blob: the file's offsets need not be aligned for the dtype.
  if (!bytes.empty()) std::memcpy(out.data_ptr(), bytes.data(), bytes.size());
  return out;
}

bool IsAttentionVariantTensor(std::string_view name) {
  return name.find(".attention.") != std::string_view::npos;
}

absl::Status LoadWeights(CausalLm& model, const std::string& path,
                         std::vector<std::string>* kept_initial) {
  // LibTorch errors here come from tensor copies (e.g. an out-of-memory device); a
  // bad file is reported before any tensor is touched.
  try {
    return LoadWeightsOrThrow(model, path, kept_initial);
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat(path, ": libtorch: ", e.what_without_backtrace()));
  }
}

absl::Status SaveHfCheckpoint(const CausalLm& model, const spec::RunSpec& run,
                              const std::string& dir) {
  try {
    return SaveHfCheckpointOrThrow(model, run, dir);
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat(dir, ": libtorch: ", e.what_without_backtrace()));
  }
}

}  // namespace gwo::models
