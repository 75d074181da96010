#include "worker/trainer/training_session.h"

#include <torch/torch.h>

#include <filesystem>
#include <system_error>
#include <tuple>

#include "common/run_layout.h"
#include "absl/strings/str_cat.h"
#include "spec/parse.h"
#include "worker/trainer/checkpoint.h"
#include "worker/trainer/file_io.h"
#include "worker/trainer/model_setup.h"

namespace gwo::trainer {
namespace {

namespace fs = std::filesystem;

absl::Status Annotate(const absl::Status& status, const std::string& path) {
  return absl::Status(status.code(),
                      absl::StrCat("cannot resume from ", path, ": ", status.message()));
}

// Puts `point`'s weights into `model`, its optimizer state into `optimizer`, its
// data position into `sampler` and its generator states into LibTorch.
absl::StatusOr<LoopState> Restore(const ResumePoint& point, torch::nn::Module& model,
                                  torch::optim::AdamW& optimizer, WindowSampler& sampler,
                                  const torch::Device& device) {
  if (absl::Status s = LoadModuleState(point.contents.model_bytes, model); !s.ok()) {
    return Annotate(s, point.path);
  }
  absl::StatusOr<LoopState> loop =
      RestoreTrainingState(point.contents.state_bytes, optimizer, device);
  if (!loop.ok()) return Annotate(loop.status(), point.path);
  if (absl::Status s = sampler.Restore(loop->sampler); !s.ok()) return Annotate(s, point.path);
  if (loop->device != device.str()) {
    Progress(
        "the checkpoint trained on %s, this run is on %s: the curve continues, though not "
        "bit for bit",
        loop->device, device.str());
  }
  return loop;
}

}  // namespace

std::string MetricName(std::string_view prefix, std::string_view name, std::string suffix) {
  return std::string(prefix) + std::string(name) + suffix;
}

absl::Status RecordAll(MetricSink& sink, int64_t step, std::string_view prefix,
                       std::initializer_list<std::pair<std::string_view, double>> points) {
  for (const auto& [name, value] : points) {
    if (absl::Status s = sink.Record(step, MetricName(prefix, name), value); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<models::CausalLm*> Session::ExportModel() {
  if (plain == nullptr) return &model();
  if (absl::Status s = CopyMergedWeights(model(), *plain); !s.ok()) return s;
  return plain.get();
}

absl::Status Session::RecordParameterCounts(const Learner& l) {
  Progress("%strainable parameters: %d of %d (mode %s%s)", l.prefix, l.trainable.trainable,
           l.trainable.total, spec.training.trainable.mode,
           l.trainable.lora_modules.empty()
               ? ""
               : absl::StrCat(", LoRA on ", l.trainable.lora_modules.size(), " layers"));
  return RecordAll(*sink, 0, l.prefix,
                   {{kParamsTotal, static_cast<double>(l.trainable.total)},
                    {kParamsTrainable, static_cast<double>(l.trainable.trainable)}});
}

absl::Status Session::Begin(const std::optional<ResumePoint>& point) {
  loop.device = device.str();
  std::error_code ec;
  if (point.has_value()) {
    absl::StatusOr<LoopState> restored =
        Restore(*point, model(), *learner->adamw.optimizer, *sampler, device);
    if (!restored.ok()) return restored.status();
    learner->trainable.Capture();
    learner->scaler.Restore(restored->loss_scale, restored->loss_scale_growth);
    loop = *std::move(restored);
    loop.device = device.str();
    resumed_from = loop.step;
    if (fs::equivalent(fs::path(point->path).parent_path(), checkpoint_dir, ec)) {
      saved_step = loop.step;
    } else if (AdoptBestCheckpoint(point->path, out.string())) {
      Progress("took over the best.ckpt of %s", point->path);
    }
    Progress("resuming from %s at step %d of %d", point->path, loop.step + 1,
             spec.training.steps);
  } else {
    if (absl::StatusOr<std::vector<int64_t>> old = ListCheckpointSteps(checkpoint_dir);
        old.ok() && !old->empty()) {
      Progress("starting over: deleting the %d checkpoints in %s", old->size(), checkpoint_dir);
    }
    fs::remove(out / run_layout::kBest, ec);
  }
  const int64_t start_step = point.has_value() ? loop.step : -1;
  if (absl::Status s = RemoveCheckpointsAfter(checkpoint_dir, start_step); !s.ok()) return s;
  const std::string metrics_path = run_layout::Metrics(out.string());
  if (absl::Status s = TruncateMetricsAfter(metrics_path, start_step); !s.ok()) return s;
  if (absl::Status s =
          WriteFileAtomically((out / "run.yaml").string(), spec::RunSpecToYaml(spec));
      !s.ok()) {
    return s;
  }
  absl::StatusOr<std::unique_ptr<MetricSink>> opened =
      MetricSink::Open(metrics_path, options.events_fd);
  if (!opened.ok()) return opened.status();
  sink = *std::move(opened);
  if (point.has_value()) return absl::OkStatus();
  if (absl::Status s = RecordParameterCounts(*learner); !s.ok()) return s;
  return side == nullptr ? absl::OkStatus() : RecordParameterCounts(*side);
}

absl::Status Session::SaveTrainingCheckpoint() {
  std::error_code ec;
  fs::create_directories(checkpoint_dir, ec);
  if (ec)
    return absl::InternalError(
        absl::StrCat("cannot create ", checkpoint_dir, ": ", ec.message()));
  loop.sampler = sampler->State();
  learner->update->SyncState();
  std::tie(loop.loss_scale, loop.loss_scale_growth) = learner->scaler.State();
  const std::string path = CheckpointPath(checkpoint_dir, loop.step);
  if (absl::Status s = SaveCheckpoint(path, spec, model(),
                                      SerializeTrainingState(loop, *learner->adamw.optimizer, device));
      !s.ok()) {
    return s;
  }
  saved_step = loop.step;
  Progress("saved %s", path);
  return PruneCheckpoints(checkpoint_dir, spec.training.keep_checkpoints);
}

}  // namespace gwo::trainer
