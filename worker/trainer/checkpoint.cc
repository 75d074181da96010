#include "worker/trainer/checkpoint.h"

#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "spec/parse.h"
#include "worker/data/tokenizer.h"
#include "worker/trainer/checkpoint_format.h"
#include "worker/trainer/file_io.h"

namespace gwo::trainer {
namespace {

void WriteState(const torch::nn::Module& module, torch::serialize::OutputArchive& archive) {
  for (const auto& item : module.named_parameters(/*recurse=*/false)) {
    archive.write(item.key(), item.value().detach().cpu());
  }
  for (const auto& item : module.named_buffers(/*recurse=*/false)) {
    archive.write(item.key(), item.value().detach().cpu(), /*is_buffer=*/true);
  }
  for (const auto& item : module.named_children()) {
    torch::serialize::OutputArchive child_archive(archive.compilation_unit());
    WriteState(*item.value(), child_archive);
    archive.write(item.key(), child_archive);
  }
}

// Copies one stored tensor into `target` after checking it matches; `path` names it.
absl::Status ReadTensor(torch::serialize::InputArchive& archive, const std::string& name,
                        const std::string& path, bool is_buffer, torch::Tensor& target) {
  torch::Tensor stored;
  if (!archive.try_read(name, stored, is_buffer)) {
    return absl::DataLossError(absl::StrCat("model state lacks tensor '", path, "'"));
  }
  if (stored.sizes() != target.sizes() || stored.scalar_type() != target.scalar_type()) {
    return absl::DataLossError(c10::str("model state tensor '", path, "' is ", stored.scalar_type(),
                                        stored.sizes(), ", the model expects ",
                                        target.scalar_type(), target.sizes()));
  }
  torch::NoGradGuard no_grad;
  target.copy_(stored);
  return absl::OkStatus();
}

absl::Status ReadState(torch::serialize::InputArchive& archive, const std::string& prefix,
                       torch::nn::Module& module) {
  for (auto& item : module.named_parameters(/*recurse=*/false)) {
    const std::string& name = item.key();
    if (absl::Status s = ReadTensor(archive, name, prefix + name, false, item.value()); !s.ok()) {
      return s;
    }
  }
  for (auto& item : module.named_buffers(/*recurse=*/false)) {
    const std::string& name = item.key();
    if (absl::Status s = ReadTensor(archive, name, prefix + name, true, item.value()); !s.ok()) {
      return s;
    }
  }
  for (const auto& item : module.named_children()) {
    const std::string& name = item.key();
    torch::serialize::InputArchive child_archive;
    if (!archive.try_read(name, child_archive)) {
      return absl::DataLossError(absl::StrCat("model state lacks module '", prefix + name, "'"));
    }
    if (absl::Status s = ReadState(child_archive, prefix + name + ".", *item.value()); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string SerializeModuleState(const torch::nn::Module& module) {
  torch::serialize::OutputArchive archive;
  WriteState(module, archive);
  std::ostringstream out;
  archive.save_to(out);
  return std::move(out).str();
}

absl::Status LoadModuleState(std::string_view bytes, torch::nn::Module& module) {
  // The one place besides gwo-train's entry point that catches LibTorch exceptions:
  // these bytes come from a file, and a bad file must be an error, not a crash.
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(bytes.data(), bytes.size(), torch::Device(torch::kCPU));
    return ReadState(archive, "", module);
  } catch (const c10::Error& e) {
    return absl::DataLossError(
        absl::StrCat("model state is unreadable: ", e.what_without_backtrace()));
  } catch (const std::exception& e) {
    return absl::DataLossError(absl::StrCat("model state is unreadable: ", e.what()));
  }
}

absl::Status SaveCheckpoint(const std::string& path, const spec::RunSpec& spec,
                            const torch::nn::Module& model, std::string training_state) {
  CheckpointContents contents;
  contents.spec_yaml = spec::RunSpecToYaml(spec);
  contents.model_bytes = SerializeModuleState(model);
  contents.state_bytes = std::move(training_state);
  return WriteFileAtomically(path, EncodeCheckpoint(contents));
}

absl::StatusOr<int> VocabularySize(const spec::RunSpec& spec) {
  if (spec.model.vocab_size > 0) return spec.model.vocab_size;
  absl::StatusOr<std::unique_ptr<data::Tokenizer>> tokenizer =
      data::LoadTokenizer(spec.data.tokenizer, spec::CorporaDir());
  if (!tokenizer.ok()) return tokenizer.status();
  return (*tokenizer)->vocab_size();
}

absl::StatusOr<LoadedCheckpoint> LoadCheckpoint(const std::string& path) {
  absl::StatusOr<std::string> file = ReadFileToString(path);
  if (!file.ok()) return file.status();
  absl::StatusOr<CheckpointContents> contents = DecodeCheckpoint(*file, path);
  if (!contents.ok()) return contents.status();
  absl::StatusOr<spec::RunSpec> spec =
      spec::ParseRunSpec(contents->spec_yaml, absl::StrCat(path, " (embedded run spec)"));
  if (!spec.ok()) return spec.status();
  absl::StatusOr<int> vocab_size = VocabularySize(*spec);
  if (!vocab_size.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": the embedded run spec's vocabulary: ", vocab_size.status().message()));
  }
  absl::StatusOr<std::shared_ptr<models::CausalLm>> model =
      models::MakeModel(spec->model, spec->attention, *vocab_size);
  if (!model.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": the embedded run spec's model cannot be built: ", model.status().message()));
  }
  if (absl::Status s = LoadModuleState(contents->model_bytes, **model); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat(path, ": ", s.message()));
  }
  (*model)->eval();
  return LoadedCheckpoint{*std::move(spec), *std::move(model)};
}

}  // namespace gwo::trainer
