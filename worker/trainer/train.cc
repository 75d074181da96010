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
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "spec/parse.h"
#include "absl/strings/str_join.h"
#include "spec/run_spec.h"
#include "worker/data/token_cache.h"
#include "worker/data/tokenizer.h"
#include "worker/models/hf_config.h"
#include "worker/models/hf_checkpoint.h"
#include "worker/models/model.h"
#include "worker/trainer/batches.h"
#include "worker/trainer/blas_threads.h"
#include "worker/trainer/checkpoint.h"
#include "worker/trainer/checkpoint_dir.h"
#include "worker/trainer/file_io.h"
#include "worker/trainer/lr_schedule.h"
#include "worker/trainer/metrics_sink.h"
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

// The spec's corpus, tokenized (through the shared token cache) and split, and the
// size of its tokenizer's vocabulary.
absl::StatusOr<data::TokenizedCorpus> LoadData(const spec::RunSpec& spec) {
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
  return corpus;
}

// Loads `spec.model.init` (unless "scratch") into `model`: a gwo checkpoint (.ckpt),
// or an HF model directory / .safetensors file.
absl::Status LoadInitialWeights(const spec::RunSpec& spec, models::CausalLm& model) {
  const std::string& init = spec.model.init;
  if (init.empty() || init == "scratch") return absl::OkStatus();
  if (init.size() > 5 && init.compare(init.size() - 5, 5, ".ckpt") == 0) {
    absl::StatusOr<LoadedCheckpoint> loaded = LoadCheckpoint(init);
    if (!loaded.ok()) return loaded.status();
    const std::vector<std::string> differences =
        models::ShapeDifferences(loaded->model->spec(), model.spec());
    if (!differences.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("model.init ", init, " has another shape: ",
                                                     absl::StrJoin(differences, "; ")));
    }
    torch::NoGradGuard no_grad;
    auto source = loaded->model->named_parameters();
    for (auto& p : model.named_parameters()) {
      const torch::Tensor* from = source.find(p.key());
      if (from == nullptr) return absl::InvalidArgumentError(absl::StrCat("model.init ", init, " lacks ", p.key()));
      p.value().copy_(*from);
    }
  } else if (absl::Status s = models::LoadWeights(model, init); !s.ok()) {
    return s;
  }
  Progress("initial weights from %s", init);
  return absl::OkStatus();
}

// The spec's model with its initial weights (drawn from the current torch seed, or
// loaded from model.init), on `device`, in training mode.
absl::StatusOr<std::shared_ptr<models::CausalLm>> BuildModel(const spec::RunSpec& spec, int vocab_size,
                                                             const torch::Device& device) {
  absl::StatusOr<std::shared_ptr<models::CausalLm>> built =
      models::MakeModel(spec.model, spec.attention, vocab_size);
  if (!built.ok()) return built.status();
  std::shared_ptr<models::CausalLm> model = *std::move(built);
  for (const auto& attention : model->attentions()) {
    if (auto why = attention->Unsupported(device, torch::kFloat32, spec.model.block_size)) {
      return absl::InvalidArgumentError(
          absl::StrCat("attention '", spec.attention.kind, "' cannot run here: ", *why));
    }
  }
  if (absl::Status s = LoadInitialWeights(spec, *model); !s.ok()) return s;
  model->to(device);
  model->train();
  const models::ParameterCounts params = model->parameter_counts();
  Progress("model %s: %d layers, %d heads, %d dims, block %d, %d parameters (%d trainable) on %s",
           spec.model.arch, spec.model.n_layer, spec.model.n_head, spec.model.n_embd,
           spec.model.block_size, params.total, params.trainable, device.str());
  return model;
}

// (B, T) int64 tensors on `device` for the windows at `starts`.
std::pair<torch::Tensor, torch::Tensor> ToTensors(std::span<const int32_t> tokens,
                                                  const std::vector<int64_t>& starts, int64_t T,
                                                  const torch::Device& device) {
  const TokenBatch batch = GatherWindows(tokens, starts, T);
  const auto B = static_cast<int64_t>(starts.size());
  return {torch::tensor(batch.inputs, torch::kLong).view({B, T}).to(device),
          torch::tensor(batch.targets, torch::kLong).view({B, T}).to(device)};
}

// Mean loss over the fixed validation windows, in batches of batch_size; nullopt
// when a stop was requested midway. Draws no random numbers (eval mode: no dropout),
// so it does not move the run's trajectory.
std::optional<double> Evaluate(models::CausalLm& model, std::span<const int32_t> val,
                               const spec::RunSpec& spec, const torch::Device& device,
                               const std::atomic<bool>* stop) {
  const int64_t T = spec.model.block_size, B = spec.training.batch_size;
  const std::vector<int64_t> starts =
      EvenlySpacedStarts(static_cast<int64_t>(val.size()), T, B * spec.training.eval_batches);
  torch::NoGradGuard no_grad;
  model.eval();
  double sum = 0.0;
  for (int i = 0; i < spec.training.eval_batches; ++i) {
    if (stop != nullptr && stop->load()) {
      model.train();
      return std::nullopt;
    }
    const std::vector<int64_t> batch_starts(starts.begin() + i * B, starts.begin() + (i + 1) * B);
    auto [x, y] = ToTensors(val, batch_starts, T, device);
    sum += LanguageModelLoss(model.forward(x), y).item<double>();
  }
  model.train();
  return sum / spec.training.eval_batches;
}

absl::Status RecordAll(MetricSink& sink, int64_t step,
                       std::initializer_list<std::pair<std::string_view, double>> points) {
  for (const auto& [name, value] : points) {
    if (absl::Status s = sink.Record(step, name, value); !s.ok()) return s;
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
  data::TokenizedCorpus corpus;
  std::shared_ptr<models::CausalLm> model;
  std::unique_ptr<torch::optim::AdamW> optimizer;
  std::unique_ptr<WindowSampler> sampler;
  std::unique_ptr<MetricSink> sink;
  LoopState loop;
  int64_t saved_step = -1;   // the step of the newest training-state checkpoint in checkpoint_dir
  int64_t resumed_from = 0;  // the step this session continued from; 0: a fresh start

  bool StopRequested() const { return options.stop != nullptr && options.stop->load(); }

  // Continues from `point` (nullopt: starts at step 1), clears what an earlier start
  // left past the starting step (checkpoints, metric points; best.ckpt on a fresh
  // start), writes run.yaml and opens the metric sink.
  absl::Status Begin(const std::optional<ResumePoint>& point) {
    loop.device = device.str();
    std::error_code ec;
    if (point.has_value()) {
      absl::StatusOr<LoopState> restored = Restore(*point, *model, *optimizer, *sampler, device);
      if (!restored.ok()) return restored.status();
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
    const models::ParameterCounts params = models::CountParameters(*model);
    return RecordAll(*sink, 0,
                     {{kParamsTotal, static_cast<double>(params.total)},
                      {kParamsTrainable, static_cast<double>(params.trainable)}});
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
    if (absl::Status s =
            SaveCheckpoint(path, spec, *model, SerializeTrainingState(loop, *optimizer, device));
        !s.ok()) {
      return s;
    }
    saved_step = loop.step;
    Progress("saved %s", path);
    return PruneCheckpoints(checkpoint_dir, spec.training.keep_checkpoints);
  }

  // Validation at loop.step: metrics, and best.ckpt when it improves. An evaluation cut
  // short by a stop leaves loop.eval_pending set, for the run that continues.
  absl::Status EvaluateNow() {
    const std::optional<double> val_loss = Evaluate(*model, corpus.val(), spec, device, options.stop);
    loop.eval_pending = !val_loss.has_value();
    if (loop.eval_pending) return absl::OkStatus();
    loop.last_val_loss = *val_loss;
    Progress("step %d/%d val_loss %.4f val_ppl %.3f", loop.step, spec.training.steps, *val_loss,
             std::exp(*val_loss));
    if (absl::Status s = RecordAll(*sink, loop.step,
                                   {{kValLoss, *val_loss}, {kValPerplexity, std::exp(*val_loss)}});
        !s.ok()) {
      return s;
    }
    if (!(*val_loss < loop.best_val_loss)) return absl::OkStatus();
    loop.best_val_loss = *val_loss;
    return SaveCheckpoint((out / "best.ckpt").string(), spec, *model);
  }

  // Steps loop.step + 1 .. training.steps, or until a stop.
  absl::Status TrainSteps() {
    const spec::TrainingSpec& training = spec.training;
    const LrSchedule schedule{training.lr, training.min_lr, training.warmup_steps, training.steps};
    const int64_t T = spec.model.block_size;
    Clock::duration train_time{};  // time in training steps since the last log
    int64_t tokens_since_log = 0;
    for (int64_t step = loop.step + 1; step <= training.steps && !StopRequested(); ++step) {
      const Clock::time_point begin = Clock::now();
      const double lr = LearningRate(schedule, step);
      SetLearningRate(*optimizer, lr);
      auto [x, y] = ToTensors(corpus.train(), sampler->Next(training.batch_size), T, device);
      const torch::Tensor loss = LanguageModelLoss(model->forward(x), y);  // ()
      optimizer->zero_grad();
      loss.backward();
      if (training.grad_clip > 0) {
        torch::nn::utils::clip_grad_norm_(model->parameters(), training.grad_clip);
      }
      optimizer->step();
      loop.step = step;
      loop.lr = lr;
      tokens_since_log += training.batch_size * T;

      if (step == 1 || (training.log_every > 0 && step % training.log_every == 0)) {
        const double train_loss = loss.item<double>();  // synchronises with the device
        train_time += Clock::now() - begin;
        const double tokens_per_s = static_cast<double>(tokens_since_log) /
                                    std::chrono::duration<double>(train_time).count();
        Progress("step %d/%d train_loss %.4f lr %.3g %.1fk tok/s", step, training.steps, train_loss,
                 lr, tokens_per_s / 1000.0);
        if (absl::Status s = RecordAll(
                *sink, step,
                {{kTrainLoss, train_loss}, {kLearningRate, lr}, {kTokensPerSecond, tokens_per_s}});
            !s.ok()) {
          return s;
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
};

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

  absl::StatusOr<data::TokenizedCorpus> corpus = LoadData(spec);
  if (!corpus.ok()) return corpus.status();
  absl::StatusOr<std::shared_ptr<models::CausalLm>> model = BuildModel(spec, corpus->vocab_size(), *device);
  if (!model.ok()) return model.status();

  Session session{.spec = spec,
                  .options = options,
                  .out = out,
                  .checkpoint_dir = checkpoint_dir,
                  .device = *device,
                  .corpus = *std::move(corpus),
                  .model = *std::move(model)};
  session.optimizer = MakeAdamW(*session.model, training);
  session.sampler =
      std::make_unique<WindowSampler>(static_cast<int64_t>(session.corpus.train().size()),
                                      spec.model.block_size, static_cast<uint64_t>(spec.seed));
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
  const std::string checkpoint = (out / "final.ckpt").string();
  if (absl::Status s = SaveCheckpoint(checkpoint, spec, *session.model); !s.ok()) return s;
  Progress("saved %s", checkpoint);
  // The same weights as an HF model directory (config.json + model.safetensors, with
  // the run spec, a format version and a checksum in its metadata).
  const std::string hf_dir = (out / "final").string();
  if (absl::Status s = models::SaveHfCheckpoint(*session.model, spec, hf_dir); !s.ok()) return s;
  Progress("saved %s (HF format)", hf_dir);
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
