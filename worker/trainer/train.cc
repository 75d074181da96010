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
#include "worker/trainer/training_state.h"

namespace gwo::trainer {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// A human-readable line for the run's log (the worker relays stdout).
template <typename... Args>
void Progress(const absl::FormatSpec<Args...>& format, const Args&... args) {
  std::fputs(absl::StrFormat(format, args...).c_str(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

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

// The spec's tokenizer and its corpus, tokenized (through the shared token cache) and split.
struct LoadedData {
  std::unique_ptr<data::Tokenizer> tokenizer;
  data::TokenizedCorpus corpus;
};
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

// prefix + name (Debian's Abseil has no StrCat for std::string_view).
std::string MetricName(std::string_view prefix, std::string_view name, std::string suffix = "") {
  return std::string(prefix) + std::string(name) + suffix;
}

// Records each (name, value) under prefix + name.
absl::Status RecordAll(MetricSink& sink, int64_t step, std::string_view prefix,
                       std::initializer_list<std::pair<std::string_view, double>> points) {
  for (const auto& [name, value] : points) {
    if (absl::Status s = sink.Record(step, MetricName(prefix, name), value); !s.ok()) return s;
  }
  return absl::OkStatus();
}

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

// One training session: this process's part of a run, from its first step to the
// last one or a stop.
struct Session {
  const spec::RunSpec& spec;
  const TrainOptions& options;
  fs::path out;
  std::string checkpoint_dir;
  torch::Device device;
  LoadedData data;
  std::unique_ptr<Learner> learner;  // the run's model
  std::unique_ptr<Learner> side;     // training.side_by_side's model, or null
  std::shared_ptr<models::CausalLm> teacher;  // training.distill's, or null
  // With LoRA: a model without adapters into which the merged weights are copied
  // for the weights-only checkpoints (final.ckpt, best.ckpt, final/).
  std::shared_ptr<models::CausalLm> plain;
  std::unique_ptr<WindowSampler> sampler;
  // training.icl.train_on demonstrations: every step's batch (inputs, targets (shots, L),
  // targets kIgnoreTarget outside the loss); undefined: corpus windows from `sampler`.
  torch::Tensor demo_x, demo_y;
  std::unique_ptr<MetricSink> sink;
  LoopState loop;
  int64_t saved_step = -1;   // the step of the newest training-state checkpoint in checkpoint_dir
  int64_t resumed_from = 0;  // the step this session continued from; 0: a fresh start

  bool StopRequested() const { return options.stop != nullptr && options.stop->load(); }
  const data::TokenizedCorpus& corpus() const { return data.corpus; }
  models::CausalLm& model() { return *learner->model; }

  // The run's model as weights-only checkpoints store it (adapters merged).
  absl::StatusOr<models::CausalLm*> ExportModel() {
    if (plain == nullptr) return &model();
    if (absl::Status s = CopyMergedWeights(model(), *plain); !s.ok()) return s;
    return plain.get();
  }

  absl::Status RecordParameterCounts(const Learner& l) {
    Progress("%strainable parameters: %d of %d (mode %s%s)", l.prefix, l.trainable.trainable,
             l.trainable.total, spec.training.trainable.mode,
             l.trainable.lora_modules.empty()
                 ? ""
                 : absl::StrCat(", LoRA on ", l.trainable.lora_modules.size(), " layers"));
    return RecordAll(*sink, 0, l.prefix,
                     {{kParamsTotal, static_cast<double>(l.trainable.total)},
                      {kParamsTrainable, static_cast<double>(l.trainable.trainable)}});
  }

  // Continues from `point` (nullopt: starts at step 1), clears what an earlier start
  // left past the starting step (checkpoints, metric points; best.ckpt on a fresh
  // start), writes run.yaml and opens the metric sink.
  absl::Status Begin(const std::optional<ResumePoint>& point) {
    loop.device = device.str();
    std::error_code ec;
    if (point.has_value()) {
      absl::StatusOr<LoopState> restored =
          Restore(*point, model(), *learner->adamw.optimizer, *sampler, device);
      if (!restored.ok()) return restored.status();
      learner->trainable.Capture();
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
      fs::remove(out / "best.ckpt", ec);
    }
    const int64_t start_step = point.has_value() ? loop.step : -1;
    if (absl::Status s = RemoveCheckpointsAfter(checkpoint_dir, start_step); !s.ok()) return s;
    const std::string metrics_path = (out / "metrics.jsonl").string();
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

  // Writes <checkpoint_dir>/step-<loop.step>.ckpt and prunes the older ones.
  absl::Status SaveTrainingCheckpoint() {
    std::error_code ec;
    fs::create_directories(checkpoint_dir, ec);
    if (ec)
      return absl::InternalError(
          absl::StrCat("cannot create ", checkpoint_dir, ": ", ec.message()));
    loop.sampler = sampler->State();
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

  // The fidelity metrics of `l` against the teacher on the first fidelity_batches
  // validation batches.
  absl::Status RecordFidelity(Learner& l) {
    const int n = std::min(spec.training.metrics.fidelity_batches, spec.training.eval_batches);
    if (teacher == nullptr || n <= 0) return absl::OkStatus();
    const auto starts = ValidationBatches(static_cast<int64_t>(corpus().val().size()), spec);
    std::vector<std::pair<torch::Tensor, torch::Tensor>> batches;
    for (int i = 0; i < n; ++i) batches.push_back(ToTensors(corpus().val(), starts[i], spec.model.block_size, device));
    const Fidelity f = MeasureFidelity(*l.model, *teacher, batches, spec.training.micro_batch_size);
    Progress("step %d %skl_teacher %.4g attn_prob_mse %.4g attn_grad_cosine %.4f", loop.step, l.prefix,
             f.kl, f.attn_prob_mse, f.attn_grad_cosine);
    return RecordAll(*sink, loop.step, l.prefix,
                     {{kValKlTeacher, f.kl}, {kAttnProbMse, f.attn_prob_mse}, {kAttnGradCosine, f.attn_grad_cosine}});
  }

  // Validation at loop.step: metrics, and best.ckpt when it improves. An evaluation cut
  // short by a stop leaves loop.eval_pending set, for the run that continues.
  absl::Status EvaluateNow() {
    const std::optional<double> val_loss = Evaluate(model(), corpus().val(), spec, device, options.stop);
    loop.eval_pending = !val_loss.has_value();
    if (loop.eval_pending) return absl::OkStatus();
    loop.last_val_loss = *val_loss;
    Progress("step %d/%d val_loss %.4f val_ppl %.3f", loop.step, spec.training.steps, *val_loss,
             std::exp(*val_loss));
    if (absl::Status s = RecordAll(*sink, loop.step, "",
                                   {{kValLoss, *val_loss}, {kValPerplexity, std::exp(*val_loss)}});
        !s.ok()) {
      return s;
    }
    if (absl::Status s = RecordFidelity(*learner); !s.ok()) return s;
    if (side != nullptr) {
      const std::optional<double> side_loss = Evaluate(*side->model, corpus().val(), spec, device, nullptr);
      Progress("step %d/%d %sval_loss %.4f", loop.step, spec.training.steps, side->prefix, *side_loss);
      if (absl::Status s = RecordAll(*sink, loop.step, side->prefix,
                                     {{kValLoss, *side_loss}, {kValPerplexity, std::exp(*side_loss)}});
          !s.ok()) {
        return s;
      }
      if (absl::Status s = RecordFidelity(*side); !s.ok()) return s;
    }
    if (!(*val_loss < loop.best_val_loss)) return absl::OkStatus();
    loop.best_val_loss = *val_loss;
    absl::StatusOr<models::CausalLm*> exported = ExportModel();
    if (!exported.ok()) return exported.status();
    return SaveCheckpoint((out / "best.ckpt").string(), spec, **exported);
  }

  // The logged step's metrics of `l`.
  absl::Status RecordStep(const Learner& l, const StepLoss& loss, int64_t step) {
    const double total = loss.total.item<double>();
    if (absl::Status s = sink->Record(step, MetricName(l.prefix, kTrainLoss), total); !s.ok()) return s;
    if (loss.distill.defined()) {
      if (absl::Status s = RecordAll(*sink, step, l.prefix,
                                     {{kTrainLmLoss, loss.lm.defined() ? loss.lm.item<double>() : 0.0},
                                      {kTrainDistillLoss, loss.distill.item<double>()}});
          !s.ok()) {
        return s;
      }
    }
    for (size_t i = 0; i < l.layer_scales.size(); ++i) {
      if (absl::Status s = sink->Record(step, MetricName(l.prefix, kNaturalScalePrefix, std::to_string(i)), l.layer_scales[i]);
          !s.ok()) {
        return s;
      }
    }
    if (!l.prefix.empty()) Progress("step %d %strain_loss %.4f", step, l.prefix, total);
    return absl::OkStatus();
  }

  // Steps loop.step + 1 .. training.steps, or until a stop.
  absl::Status TrainSteps() {
    const spec::TrainingSpec& training = spec.training;
    const LrSchedule schedule{training.lr, training.min_lr, training.warmup_steps, training.steps};
    const int64_t T = spec.model.block_size;
    Clock::duration train_time{};  // time in training steps since the last log
    int64_t tokens_since_log = 0;
    const int64_t first_step = loop.step + 1;
    for (int64_t step = first_step; step <= training.steps && !StopRequested(); ++step) {
      const Clock::time_point begin = Clock::now();
      const double lr = LearningRate(schedule, step);
      auto [x, y] = demo_x.defined() ? std::pair(demo_x, demo_y)
                                     : ToTensors(corpus().train(), sampler->Next(training.batch_size), T, device);
      torch::Tensor teacher_logits;  // (B, T, V), or undefined
      if (teacher != nullptr && training.distill.weight > 0) {
        torch::NoGradGuard no_grad;
        teacher_logits = teacher->forward(x);
      }
      const bool measure_memory = step == first_step && resumed_from == 0;  // step 1 of a fresh start
      if (measure_memory) ResetPeakMemory(device);
      const StepLoss loss = learner->Step(x, y, teacher_logits, training, lr);
      if (measure_memory) {
        const double peak = static_cast<double>(PeakMemoryBytes(device));
        Progress("training step peak memory: %.1f MiB on %s", peak / (1 << 20), device.str());
        if (absl::Status s = sink->Record(step, kTrainStepPeakMemory, peak); !s.ok()) return s;
      }
      StepLoss side_loss;
      if (side != nullptr) side_loss = side->Step(x, y, teacher_logits, training, lr);
      loop.step = step;
      loop.lr = lr;
      tokens_since_log += x.numel();

      if (step == 1 || (training.log_every > 0 && step % training.log_every == 0)) {
        const double train_loss = loss.total.item<double>();  // synchronises with the device
        train_time += Clock::now() - begin;
        const double tokens_per_s = static_cast<double>(tokens_since_log) /
                                    std::chrono::duration<double>(train_time).count();
        Progress("step %d/%d train_loss %.4f lr %.3g %.1fk tok/s", step, training.steps, train_loss,
                 lr, tokens_per_s / 1000.0);
        if (absl::Status s = RecordAll(*sink, step, "", {{kLearningRate, lr}, {kTokensPerSecond, tokens_per_s}});
            !s.ok()) {
          return s;
        }
        if (absl::Status s = RecordStep(*learner, loss, step); !s.ok()) return s;
        if (side != nullptr) {
          if (absl::Status s = RecordStep(*side, side_loss, step); !s.ok()) return s;
        }
        train_time = {};
        tokens_since_log = 0;
      } else {
        train_time += Clock::now() - begin;
      }

      if ((training.eval_every > 0 && step % training.eval_every == 0) || step == training.steps) {
        if (absl::Status s = EvaluateNow(); !s.ok()) return s;
      }
      if (training.checkpoint_every > 0 && step % training.checkpoint_every == 0) {
        if (absl::Status s = SaveTrainingCheckpoint(); !s.ok()) return s;
      }
      if (options.after_step) options.after_step(step);
    }
    return absl::OkStatus();
  }

  // What is measured once training is done: inference memory at the configured
  // lengths, the in-context-learning comparison, generated samples.
  absl::Status FinalMeasurements() {
    const spec::TrainingSpec& training = spec.training;
    for (int length : training.metrics.memory_lengths) {
      if (length > spec.model.block_size) {
        Progress("inference memory at length %d skipped: above block_size %d", length, spec.model.block_size);
      }
    }
    for (const InferenceMemory& m : MeasureInference(model(), training.metrics.memory_lengths)) {
      Progress("inference at length %d: peak memory %.1f MiB, %.0f tok/s", m.length,
               static_cast<double>(m.peak_bytes) / (1 << 20), m.tokens_per_s);
      if (absl::Status s = RecordAll(*sink, loop.step, "",
                                     {{MetricName("", kInferPeakMemoryPrefix, std::to_string(m.length)), static_cast<double>(m.peak_bytes)},
                                      {MetricName("", kInferTokensPerSecondPrefix, std::to_string(m.length)), m.tokens_per_s}});
          !s.ok()) {
        return s;
      }
    }
    if (training.icl.enabled && teacher != nullptr) {
      absl::StatusOr<data::LabelledExamples> examples = data::LoadLabelledExamples(spec.data);
      if (!examples.ok()) return examples.status();
      absl::StatusOr<IclComparison> icl =
          CompareIclWithFineTuning(model(), *teacher, *data.tokenizer, *examples, training.icl);
      if (!icl.ok()) return icl.status();
      Progress("icl over %d queries: SimAOU %.4f SimAM %.4f Kendall tau %.4f; label accuracy ICL %.3f FT %.3f "
               "zero-shot %.3f",
               icl->queries, icl->sim_aou, icl->sim_am, icl->kendall_tau, icl->accuracy_icl, icl->accuracy_ft,
               icl->accuracy_zsl);
      if (absl::Status s = RecordAll(*sink, loop.step, "",
                                     {{kIclSimAou, icl->sim_aou}, {kIclSimAm, icl->sim_am},
                                      {kIclKendallTau, icl->kendall_tau}, {kIclAccuracyIcl, icl->accuracy_icl},
                                      {kIclAccuracyFt, icl->accuracy_ft}, {kIclAccuracyZsl, icl->accuracy_zsl}});
          !s.ok()) {
        return s;
      }
    }
    if (training.generate.prompts.empty()) return absl::OkStatus();
    const std::vector<Sample> samples = GenerateSamples(model(), *data.tokenizer, training.generate);
    for (size_t i = 0; i < samples.size(); ++i) {
      Progress("sample %d greedy: %s", i, absl::CEscape(samples[i].prompt + samples[i].greedy));
      Progress("sample %d sampled: %s", i, absl::CEscape(samples[i].prompt + samples[i].sampled));
    }
    const std::string path = (out / "samples.jsonl").string();
    if (absl::Status s = WriteSamples(path, samples, training.generate); !s.ok()) return s;
    Progress("samples written to %s", path);
    return absl::OkStatus();
  }
};

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

absl::StatusOr<TrainResult> Train(const spec::RunSpec& spec, const TrainOptions& options) {
  const spec::TrainingSpec& training = spec.training;
  const fs::path out(options.out_dir);
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec)
    return absl::InternalError(absl::StrCat("cannot create ", out.string(), ": ", ec.message()));
  const std::string checkpoint_dir = (out / "checkpoints").string();
  absl::StatusOr<ResumeSearch> start =
      ChooseResumePoint(checkpoint_dir, spec, options.resume, options.resume_from);
  if (!start.ok()) return start.status();
  for (const std::string& line : start->skipped) Progress("%s", line);

  absl::StatusOr<torch::Device> device = ResolveDevice(training.device);
  if (!device.ok()) return device.status();
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
  const std::string checkpoint = (out / "final.ckpt").string();
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
