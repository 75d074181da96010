#include "worker/trainer/train.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "spec/parse.h"
#include "worker/data/corpus.h"
#include "worker/models/gpt2.h"
#include "worker/trainer/batches.h"
#include "worker/trainer/blas_threads.h"
#include "worker/trainer/checkpoint.h"
#include "worker/trainer/file_io.h"
#include "worker/trainer/lr_schedule.h"
#include "worker/trainer/metrics_sink.h"
#include "worker/trainer/optimization.h"

namespace gwo::trainer {
namespace {

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

// (B, T) int64 tensors on `device` for the windows at `starts`.
std::pair<torch::Tensor, torch::Tensor> ToTensors(const std::vector<int32_t>& tokens,
                                                  const std::vector<int64_t>& starts, int64_t T,
                                                  const torch::Device& device) {
  const TokenBatch batch = GatherWindows(tokens, starts, T);
  const auto B = static_cast<int64_t>(starts.size());
  return {torch::tensor(batch.inputs, torch::kLong).view({B, T}).to(device),
          torch::tensor(batch.targets, torch::kLong).view({B, T}).to(device)};
}

// Mean loss over the fixed validation windows, in batches of batch_size; nullopt
// when a stop was requested midway.
std::optional<double> Evaluate(models::Gpt2& model, const std::vector<int32_t>& val,
                               const spec::RunSpec& spec, const torch::Device& device,
                               const std::atomic<bool>* stop) {
  const int64_t T = spec.model.block_size, B = spec.training.batch_size;
  const std::vector<int64_t> starts =
      EvenlySpacedStarts(static_cast<int64_t>(val.size()), T, B * spec.training.eval_batches);
  torch::NoGradGuard no_grad;
  model->eval();
  double sum = 0.0;
  for (int i = 0; i < spec.training.eval_batches; ++i) {
    if (stop != nullptr && stop->load()) return std::nullopt;
    const std::vector<int64_t> batch_starts(starts.begin() + i * B, starts.begin() + (i + 1) * B);
    auto [x, y] = ToTensors(val, batch_starts, T, device);
    sum += LanguageModelLoss(model->forward(x), y).item<double>();
  }
  model->train();
  return sum / spec.training.eval_batches;
}

absl::Status RecordAll(MetricSink& sink, int64_t step,
                       std::initializer_list<std::pair<std::string_view, double>> points) {
  for (const auto& [name, value] : points) {
    if (absl::Status s = sink.Record(step, name, value); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<TrainResult> Train(const spec::RunSpec& spec, const TrainOptions& options) {
  const spec::TrainingSpec& training = spec.training;
  const std::filesystem::path out(options.out_dir);
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec)
    return absl::InternalError(absl::StrCat("cannot create ", out.string(), ": ", ec.message()));
  if (absl::Status s = WriteFileAtomically((out / "run.yaml").string(), spec::RunSpecToYaml(spec));
      !s.ok()) {
    return s;
  }
  absl::StatusOr<std::unique_ptr<MetricSink>> sink =
      MetricSink::Open((out / "metrics.jsonl").string(), options.events_fd);
  if (!sink.ok()) return sink.status();

  absl::StatusOr<torch::Device> device = ResolveDevice(training.device);
  if (!device.ok()) return device.status();
  if (training.threads > 0) {
    torch::set_num_threads(training.threads);
    SetBlasThreads(training.threads);
  }
  torch::manual_seed(static_cast<uint64_t>(spec.seed));

  absl::StatusOr<data::Corpus> corpus = data::LoadCorpus(spec.data, spec.model.block_size);
  if (!corpus.ok()) return corpus.status();
  Progress("data %s: %d train tokens (%d docs), %d val tokens (%d docs)", spec.data.name,
           corpus->train.size(), corpus->train_docs.size(), corpus->val.size(),
           corpus->val_docs.size());

  const int vocab_size = spec::TokenizerVocabSize(spec.data.tokenizer);
  if (vocab_size != corpus->vocab_size) {
    return absl::InternalError(absl::StrCat("tokenizer '", spec.data.tokenizer, "' has vocabulary ",
                                            vocab_size, " in the spec but ", corpus->vocab_size,
                                            " in the data loader"));
  }
  absl::StatusOr<models::Gpt2> built = models::MakeGpt2(spec.model, spec.attention, vocab_size);
  if (!built.ok()) return built.status();
  models::Gpt2 model = *std::move(built);
  for (const auto& attention : model->attentions()) {
    if (auto why = attention->Unsupported(*device, torch::kFloat32, spec.model.block_size)) {
      return absl::InvalidArgumentError(
          absl::StrCat("attention '", spec.attention.kind, "' cannot run here: ", *why));
    }
  }
  model->to(*device);
  model->train();
  const models::ParameterCounts params = models::CountParameters(*model);
  Progress("model %s: %d layers, %d heads, %d dims, block %d, %d parameters on %s", spec.model.arch,
           spec.model.n_layer, spec.model.n_head, spec.model.n_embd, spec.model.block_size,
           params.total, device->str());
  if (absl::Status s = RecordAll(**sink, 0,
                                 {{kParamsTotal, static_cast<double>(params.total)},
                                  {kParamsTrainable, static_cast<double>(params.trainable)}});
      !s.ok()) {
    return s;
  }

  std::unique_ptr<torch::optim::AdamW> optimizer = MakeAdamW(*model, training);
  const LrSchedule schedule{training.lr, training.min_lr, training.warmup_steps, training.steps};
  const int64_t T = spec.model.block_size;
  WindowSampler sampler(static_cast<int64_t>(corpus->train.size()), T,
                        static_cast<uint64_t>(spec.seed));
  TrainResult result;
  Clock::duration train_time{};  // time in training steps since the last log
  int64_t tokens_since_log = 0;
  for (int64_t step = 1; step <= training.steps; ++step) {
    if (options.stop != nullptr && options.stop->load()) {
      result.stopped = true;
      break;
    }
    const Clock::time_point begin = Clock::now();
    const double lr = LearningRate(schedule, step);
    SetLearningRate(*optimizer, lr);
    auto [x, y] = ToTensors(corpus->train, sampler.Next(training.batch_size), T, *device);
    const torch::Tensor loss = LanguageModelLoss(model->forward(x), y);  // ()
    optimizer->zero_grad();
    loss.backward();
    if (training.grad_clip > 0) {
      torch::nn::utils::clip_grad_norm_(model->parameters(), training.grad_clip);
    }
    optimizer->step();
    result.steps_done = step;
    tokens_since_log += training.batch_size * T;

    if (step == 1 || (training.log_every > 0 && step % training.log_every == 0)) {
      const double train_loss = loss.item<double>();  // synchronises with the device
      train_time += Clock::now() - begin;
      const double tokens_per_s =
          static_cast<double>(tokens_since_log) / std::chrono::duration<double>(train_time).count();
      Progress("step %d/%d train_loss %.4f lr %.3g %.1fk tok/s", step, training.steps, train_loss,
               lr, tokens_per_s / 1000.0);
      if (absl::Status s = RecordAll(
              **sink, step,
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
      const std::optional<double> val_loss =
          Evaluate(model, corpus->val, spec, *device, options.stop);
      if (!val_loss.has_value()) continue;  // stop requested; the loop's next check ends it
      result.val_loss = *val_loss;
      result.val_ppl = std::exp(*val_loss);
      Progress("step %d/%d val_loss %.4f val_ppl %.3f", step, training.steps, result.val_loss,
               result.val_ppl);
      if (absl::Status s = RecordAll(
              **sink, step, {{kValLoss, result.val_loss}, {kValPerplexity, result.val_ppl}});
          !s.ok()) {
        return s;
      }
    }
  }
  if (options.stop != nullptr && options.stop->load()) result.stopped = true;  // also mid-eval
  if (result.stopped) {
    Progress("stopped by signal after step %d", result.steps_done);
    return result;
  }
  const std::string checkpoint = (out / "final.ckpt").string();
  if (absl::Status s = SaveCheckpoint(checkpoint, spec, *model); !s.ok()) return s;
  Progress("saved %s", checkpoint);
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
