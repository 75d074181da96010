#include "worker/agent/resume.h"

#include <cmath>
#include <filesystem>
#include <limits>

#include "common/run_layout.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/metric_line.h"
#include "spec/parse.h"
#include "worker/trainer/checkpoint_dir.h"
#include "worker/trainer/file_io.h"

namespace gwo::worker {
namespace {

// The N of .../step-N.ckpt; 0 when the name is not of that form.
int64_t StepOfCheckpoint(const std::string& path) {
  return run_layout::StepOfCheckpointName(std::filesystem::path(path).filename().string()).value_or(0);
}

// The history of `out_dir` up to `step`, from its metrics.jsonl.
void ReadHistory(const std::string& out_dir, int64_t step, ResumeChoice* choice) {
  absl::StatusOr<std::string> text = trainer::ReadFileToString(run_layout::Metrics(out_dir));
  if (!text.ok()) {
    choice->log.push_back(absl::StrCat("no metric history to carry over: ", text.status().message()));
    return;
  }
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    gwo::v1::MetricPoint p;
    if (!ParseMetricJson(std::string(line), &p) || p.step() > step) continue;
    choice->history.push_back(p);
    absl::StrAppend(&choice->history_jsonl, line, "\n");
  }
}

}  // namespace

bool ParseMetricJson(const std::string& line, gwo::v1::MetricPoint* point) {
  std::optional<MetricLine> m = ParseMetricJsonLine(line);
  if (!m.has_value()) return false;
  point->set_step(m->step);
  point->set_name(m->name);
  point->set_value(m->value);
  return true;
}

ResumeChoice ChooseResume(const std::string& run_spec_yaml, const std::vector<std::string>& earlier_outputs) {
  ResumeChoice choice;
  if (earlier_outputs.empty()) return choice;
  absl::StatusOr<spec::RunSpec> spec = spec::ParseRunSpec(run_spec_yaml, "run.yaml");
  if (!spec.ok()) {
    choice.log.push_back(absl::StrCat("starting from scratch: the run spec does not parse: ", spec.status().message()));
    return choice;
  }
  for (const std::string& dir : earlier_outputs) {
    const std::string checkpoints = run_layout::CheckpointsDir(dir);
    absl::StatusOr<trainer::ResumeSearch> search = trainer::FindResumePoint(checkpoints, *spec);
    if (!search.ok()) {
      choice.log.push_back(absl::StrCat("passing over ", checkpoints, ": ", search.status().message()));
      continue;
    }
    for (const std::string& line : search->skipped) choice.log.push_back(line);
    if (!search->point.has_value()) {
      choice.log.push_back(absl::StrCat("no checkpoint in ", checkpoints));
      continue;
    }
    choice.checkpoint = search->point->path;
    choice.step = StepOfCheckpoint(choice.checkpoint);
    choice.log.push_back(absl::StrCat("resuming from ", choice.checkpoint, " (step ", choice.step, ")"));
    ReadHistory(dir, choice.step, &choice);
    return choice;
  }
  choice.log.push_back("no valid checkpoint in the earlier attempts' outputs: starting from scratch");
  return choice;
}

}  // namespace gwo::worker
