#include "worker/trainer/checkpoint_dir.h"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <string_view>
#include <system_error>
#include <utility>

#include "common/run_layout.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "spec/parse.h"
#include "worker/trainer/file_io.h"
#include "worker/trainer/resume_spec.h"

namespace gwo::trainer {
namespace {

namespace fs = std::filesystem;

absl::Status Remove(const fs::path& path) {
  std::error_code ec;
  fs::remove(path, ec);
  if (ec)
    return absl::InternalError(absl::StrCat("cannot delete ", path.string(), ": ", ec.message()));
  return absl::OkStatus();
}

}  // namespace

std::string CheckpointPath(const std::string& dir, int64_t step) {
  return (fs::path(dir) / run_layout::StepCheckpointName(step)).string();
}

absl::StatusOr<std::vector<int64_t>> ListCheckpointSteps(const std::string& dir) {
  std::vector<int64_t> steps;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return steps;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (const std::optional<int64_t> step = run_layout::StepOfCheckpointName(it->path().filename().string())) {
      steps.push_back(*step);
    }
  }
  if (ec) return absl::InternalError(absl::StrCat("cannot list ", dir, ": ", ec.message()));
  std::sort(steps.begin(), steps.end(), std::greater<>());
  return steps;
}

absl::Status PruneCheckpoints(const std::string& dir, int keep) {
  absl::StatusOr<std::vector<int64_t>> steps = ListCheckpointSteps(dir);
  if (!steps.ok()) return steps.status();
  for (size_t i = static_cast<size_t>(std::max(keep, 0)); i < steps->size(); ++i) {
    if (absl::Status s = Remove(CheckpointPath(dir, (*steps)[i])); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status RemoveCheckpointsAfter(const std::string& dir, int64_t step) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return absl::OkStatus();
  std::vector<fs::path> doomed;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const std::optional<int64_t> n = run_layout::StepOfCheckpointName(name);
    // WriteFileAtomically's temporaries are <target>.tmp.<pid>.
    const bool temporary = name.starts_with("step-") && absl::StrContains(name, ".ckpt.tmp.");
    if ((n.has_value() && *n > step) || temporary) doomed.push_back(it->path());
  }
  if (ec) return absl::InternalError(absl::StrCat("cannot list ", dir, ": ", ec.message()));
  for (const fs::path& path : doomed) {
    if (absl::Status s = Remove(path); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<ResumePoint> ReadResumePoint(const std::string& path, const spec::RunSpec& given) {
  absl::StatusOr<std::string> file = ReadFileToString(path);
  if (!file.ok()) return file.status();
  absl::StatusOr<CheckpointContents> contents = DecodeCheckpoint(*file, path);
  if (!contents.ok()) return contents.status();
  if (contents->state_bytes.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(path,
                     " holds weights only (a final or best checkpoint), not a training state to "
                     "resume from; use it as model.init to start a new run from these weights"));
  }
  absl::StatusOr<spec::RunSpec> saved =
      spec::ParseRunSpec(contents->spec_yaml, absl::StrCat(path, " (embedded run spec)"));
  if (!saved.ok()) return saved.status();
  if (std::optional<std::string> why = ResumeIncompatibility(*saved, given)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot resume from ", path, ": its run spec differs from the given one in\n  ",
        absl::StrReplaceAll(*why, {{"\n", "\n  "}})));
  }
  return ResumePoint{path, *std::move(saved), *std::move(contents)};
}

absl::StatusOr<ResumeSearch> FindResumePoint(const std::string& dir, const spec::RunSpec& given) {
  absl::StatusOr<std::vector<int64_t>> steps = ListCheckpointSteps(dir);
  if (!steps.ok()) return steps.status();
  ResumeSearch search;
  for (const int64_t step : *steps) {
    const std::string path = CheckpointPath(dir, step);
    absl::StatusOr<ResumePoint> point = ReadResumePoint(path, given);
    if (point.ok()) {
      search.point = *std::move(point);
      return search;
    }
    if (point.status().code() != absl::StatusCode::kDataLoss) return point.status();
    std::error_code ec;
    fs::rename(path, path + ".corrupt", ec);
    search.skipped.push_back(
        absl::StrCat("skipping ", point.status().message(),
                     ec ? "" : absl::StrCat(" (renamed to ", path, ".corrupt)")));
  }
  return search;
}

absl::StatusOr<ResumeSearch> ChooseResumePoint(const std::string& dir, const spec::RunSpec& given,
                                               bool resume, const std::string& resume_from) {
  if (!resume_from.empty()) {
    if (!resume) {
      return absl::InvalidArgumentError("a checkpoint to resume from was given with resume off");
    }
    absl::StatusOr<ResumePoint> point = ReadResumePoint(resume_from, given);
    if (!point.ok()) return point.status();
    return ResumeSearch{.point = *std::move(point)};
  }
  if (!resume) return ResumeSearch{};
  absl::StatusOr<ResumeSearch> search = FindResumePoint(dir, given);
  if (absl::IsFailedPrecondition(search.status())) {
    return absl::FailedPreconditionError(
        absl::StrCat(search.status().message(),
                     "\nto start this run over instead, pass "
                     "--resume=false (it deletes the checkpoints in ",
                     dir, "), or write to another --out directory"));
  }
  return search;
}

bool AdoptBestCheckpoint(const std::string& resume_path, const std::string& out) {
  const fs::path source = fs::path(resume_path).parent_path().parent_path() / run_layout::kBest;
  const fs::path target = fs::path(out) / run_layout::kBest;
  std::error_code ec;
  if (!fs::exists(source, ec) || fs::equivalent(source, target, ec)) return false;
  absl::StatusOr<std::string> bytes = ReadFileToString(source.string());
  return bytes.ok() && DecodeCheckpoint(*bytes, source.string()).ok() &&
         WriteFileAtomically(target.string(), *bytes).ok();
}

}  // namespace gwo::trainer
