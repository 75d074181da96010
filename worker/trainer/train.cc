#include "worker/trainer/train.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <utility>

#include "common/run_layout.h"
#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "spec/parse.h"
#include "spec/run_spec.h"
#include "worker/data/corpus.h"
#include "worker/data/token_cache.h"
#include "worker/data/tokenizer.h"
#include "worker/models/hf_checkpoint.h"
#include "worker/models/model.h"
#include "worker/trainer/batches.h"
#include "worker/trainer/blas_threads.h"
#include "worker/trainer/checkpoint.h"
#include "worker/trainer/checkpoint_dir.h"
#include "worker/trainer/evaluation.h"
#include "worker/trainer/file_io.h"
#include "worker/trainer/generate.h"
#include "worker/trainer/icl.h"
#include "worker/trainer/icl_data.h"
#include "worker/trainer/learner.h"
#include "worker/trainer/lr_schedule.h"
#include "worker/trainer/memory_probe.h"
#include "worker/trainer/metrics_sink.h"
#include "worker/trainer/model_setup.h"
#include "worker/trainer/optimization.h"
#include "worker/trainer/precision.h"
#include "worker/trainer/step_graph.h"
#include "worker/trainer/training_session.h"
#include "worker/trainer/training_state.h"

namespace gwo::trainer {
namespace {

namespace fs = std::filesystem;

absl::StatusOr<torch::Device> ResolveDevice(const std::string& name) {
  const bool cuda = torch::cuda::is_available();
  if (name == "cpu" || (name == "auto" && !cuda)) return torch::Device(torch::kCPU);
  if (name == "cuda" || name == "auto") {
    if (!cuda)
      return absl::InvalidArgumentError("device 'cuda' requested but CUDA is not available");
    return torch::Device(torch::kCUDA, 0);
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown device '", name, "' (auto, cpu, cuda)"));
}

absl::StatusOr<LoadedData> LoadData(const spec::RunSpec& spec) {
  absl::StatusOr<std::unique_ptr<data::Tokenizer>> tokenizer =
      data::LoadTokenizer(spec.data.tokenizer, spec::CorporaDir());
  if (!tokenizer.ok()) return tokenizer.status();
  absl::StatusOr<data::TokenizedCorpus> corpus =
      data::LoadTokenizedCorpus(spec.data, **tokenizer, spec.model.block_size);
  if (!corpus.ok()) return corpus.status();
  Progress("data %s: %d train tokens (%d docs), %d val tokens (%d docs), vocabulary %d, %s %s",
           spec.data.name, corpus->train().size(), corpus->train_docs().size(), corpus->val().size(),
           corpus->val_docs().size(), corpus->vocab_size(),
           corpus->reused() ? "cached in" : "tokenized into", corpus->path());
  return LoadedData{*std::move(tokenizer), *std::move(corpus)};
}


// Records each (name, value) under prefix + name.

// A learner for the side-by-side model: the spec's model with the side attention
// kind, starting from the run's model's weights wherever names and shapes agree.
absl::StatusOr<std::unique_ptr<Learner>> MakeSideLearner(const spec::RunSpec& spec, const models::CausalLm& first,
                                                         const torch::Device& device) {
  const spec::SideBySideSpec& side = spec.training.side_by_side;
  absl::StatusOr<std::shared_ptr<models::CausalLm>> model =
      BuildModel(spec, spec::AttentionSpec{.kind = side.attention_kind}, first.vocab_size(), device);
  if (!model.ok()) return model.status();
  {
    torch::NoGradGuard no_grad;
    auto source = first.named_parameters();
    for (auto& p : (*model)->named_parameters()) {
      const torch::Tensor* from = source.find(p.key());
      if (from != nullptr && from->sizes() == p.value().sizes()) p.value().copy_(*from);
    }
  }
  return MakeLearner(*std::move(model), spec.training, side.optimizer, side.prefix);
}

// training.icl.train_on demonstrations: the fine-tuning batch of the comparison's
// demonstrations (icl_data.h; block_size: the smaller of this model's and the
// teacher's, as CompareIclWithFineTuning takes it).
absl::Status UseDemonstrations(Session& session) {
  const spec::TrainingSpec& training = session.spec.training;
  absl::StatusOr<data::LabelledExamples> examples = data::LoadLabelledExamples(session.spec.data);
  if (!examples.ok()) return examples.status();
  int64_t block = session.model().block_size();
  if (session.teacher != nullptr) block = std::min<int64_t>(block, session.teacher->block_size());
  absl::StatusOr<IclTask> task = BuildIclTask(*session.data.tokenizer, *examples, training.icl, block);
  if (!task.ok()) return task.status();
  const MaskedBatch batch = DemonstrationBatch(task->demonstrations, training.icl.loss == "label");
  session.demo_x = torch::tensor(batch.inputs, torch::kLong).view({batch.rows, batch.cols}).to(session.device);
  session.demo_y = torch::tensor(batch.targets, torch::kLong).view({batch.rows, batch.cols}).to(session.device);
  std::vector<std::string> labels;
  for (const FormattedExample& d : task->demonstrations) labels.push_back(d.label);
  Progress("fine-tuning on the %d demonstrations (labels %s, %d tokens each at most), loss on %s",
           batch.rows, absl::StrJoin(labels, ", "), batch.cols + 1,
           training.icl.loss == "label" ? "the label tokens" : "every token");
  return absl::OkStatus();
}

absl::StatusOr<TrainResult> Train(const spec::RunSpec& given, const TrainOptions& options) {
  absl::StatusOr<torch::Device> device = ResolveDevice(given.training.device);
  if (!device.ok()) return device.status();
  absl::StatusOr<Precision> precision = ResolvePrecision(given.training.precision, *device);
  if (!precision.ok()) return precision.status();
  // The spec as this process runs it: the precision resolved, so that run.yaml and the
  // checkpoints record what the run really computed in (and resuming compares it).
  spec::RunSpec spec = given;
  spec.training.precision = std::string(PrecisionName(*precision));
  const spec::TrainingSpec& training = spec.training;
  const fs::path out(options.out_dir);
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec)
    return absl::InternalError(absl::StrCat("cannot create ", out.string(), ": ", ec.message()));
  const std::string checkpoint_dir = run_layout::CheckpointsDir(out.string());
  absl::StatusOr<ResumeSearch> start =
      ChooseResumePoint(checkpoint_dir, spec, options.resume, options.resume_from);
  if (!start.ok()) return start.status();
  for (const std::string& line : start->skipped) Progress("%s", line);

  ConfigureMatmul(*precision);
  if (training.threads > 0) {
    torch::set_num_threads(training.threads);
    SetBlasThreads(training.threads);
  }
  torch::manual_seed(static_cast<uint64_t>(spec.seed));

  absl::StatusOr<LoadedData> data = LoadData(spec);
  if (!data.ok()) return data.status();
  const int vocab_size = data->corpus.vocab_size();
  absl::StatusOr<std::shared_ptr<models::CausalLm>> model = BuildModel(spec, spec.attention, vocab_size, *device);
  if (!model.ok()) return model.status();
  Progress("model %s: %d layers, %d heads, %d dims, block %d, %d parameters on %s", spec.model.arch,
           spec.model.n_layer, spec.model.n_head, spec.model.n_embd, spec.model.block_size,
           (*model)->parameter_counts().total, device->str());

  Session session{.spec = spec,
                  .options = options,
                  .out = out,
                  .checkpoint_dir = checkpoint_dir,
                  .device = *device,
                  .data = *std::move(data)};
  if (training.side_by_side.enabled) {
    absl::StatusOr<std::unique_ptr<Learner>> side = MakeSideLearner(spec, **model, *device);
    if (!side.ok()) return side.status();
    session.side = *std::move(side);
  }
  absl::StatusOr<std::unique_ptr<Learner>> learner = MakeLearner(*model, training, training.optimizer, "");
  if (!learner.ok()) return learner.status();
  session.learner = *std::move(learner);
  if (HasAdapters(session.model())) {
    absl::StatusOr<std::shared_ptr<models::CausalLm>> plain =
        models::MakeModel(spec.model, spec.attention, vocab_size);
    if (!plain.ok()) return plain.status();
    session.plain = *std::move(plain);
    session.plain->to(*device);
  }
  if (!training.distill.teacher.empty() || training.distill.teacher_from_run != 0 ||
      !training.distill.teacher_from_variant.empty()) {
    absl::StatusOr<std::shared_ptr<models::CausalLm>> teacher = LoadTeacher(training.distill, vocab_size, *device);
    if (!teacher.ok()) return teacher.status();
    session.teacher = *std::move(teacher);
  }
  session.sampler =
      std::make_unique<WindowSampler>(static_cast<int64_t>(session.corpus().train().size()),
                                      spec.model.block_size, static_cast<uint64_t>(spec.seed));
  if (training.icl.enabled && training.icl.train_on == "demonstrations") {
    absl::Status s = UseDemonstrations(session);
    if (!s.ok()) return s;
  }
  if (absl::Status s = session.Begin(start->point); !s.ok()) return s;
  const std::optional<std::string> no_graph =
      StepGraphUnsupported(*session.learner, spec, session.teacher != nullptr, session.side != nullptr);
  if (!no_graph.has_value()) session.graph = std::make_unique<StepGraph>(*session.learner, training);
  Progress("precision %s%s; training step %s%s", PrecisionName(*precision),
           *precision == Precision::kBf16 || *precision == Precision::kFp16
               ? " (autocast; float32 master weights and optimizer state)"
               : "",
           session.learner->update->fused() ? "with the fused AdamW, " : "",
           no_graph.has_value() ? absl::StrCat("eager (no CUDA graph: ", *no_graph, ")")
                                : "in a CUDA graph from its second step");

  // An attempt stopped during the evaluation of its last step owes it.
  if (session.loop.eval_pending) {
    if (absl::Status s = session.EvaluateNow(); !s.ok()) return s;
  }
  if (absl::Status s = session.TrainSteps(); !s.ok()) return s;

  TrainResult result;
  result.steps_done = session.loop.step;
  result.resumed_from = session.resumed_from;
  result.val_loss = session.loop.last_val_loss;
  result.val_ppl = std::exp(result.val_loss);
  if (session.StopRequested()) {
    result.stopped = true;
    if (training.checkpoint_every > 0 && session.loop.step > 0 &&
        session.saved_step != session.loop.step) {
      if (absl::Status s = session.SaveTrainingCheckpoint(); !s.ok()) return s;
    }
    Progress("stopped by signal after step %d", result.steps_done);
    return result;
  }
  absl::StatusOr<models::CausalLm*> exported = session.ExportModel();
  if (!exported.ok()) return exported.status();
  const std::string checkpoint = run_layout::Final(out.string());
  if (absl::Status s = SaveCheckpoint(checkpoint, spec, **exported); !s.ok()) return s;
  Progress("saved %s", checkpoint);
  // The same weights as an HF model directory (config.json + model.safetensors, with
  // the run spec, a format version and a checksum in its metadata).
  const std::string hf_dir = (out / "final").string();
  if (absl::Status s = models::SaveHfCheckpoint(**exported, spec, hf_dir); !s.ok()) return s;
  Progress("saved %s (HF format)", hf_dir);
  // After the checkpoints, so that a failing measurement does not lose the weights.
  if (absl::Status s = session.FinalMeasurements(); !s.ok()) return s;
  return result;
}

}  // namespace

absl::StatusOr<TrainResult> RunTraining(const spec::RunSpec& spec, const TrainOptions& options) {
  try {
    return Train(spec, options);
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("libtorch: ", e.what_without_backtrace()));
  } catch (const std::exception& e) {
    return absl::InternalError(e.what());
  }
}

}  // namespace gwo::trainer
