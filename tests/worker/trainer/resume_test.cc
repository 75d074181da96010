// Checkpoints and resume through RunTraining: a run continued from a checkpoint
// computes what the uninterrupted run computes (same batches, dropout masks, learning
// rates and optimizer state), step for step.
#include <torch/torch.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <stdexcept>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/metric_line.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/worker/test_dir.h"
#include "worker/models/gpt2.h"
#include "worker/trainer/checkpoint.h"
#include "worker/trainer/checkpoint_dir.h"
#include "worker/trainer/checkpoint_format.h"
#include "worker/trainer/file_io.h"
#include "worker/trainer/optimization.h"
#include "worker/trainer/train.h"
#include "worker/trainer/training_state.h"

namespace gwo::trainer {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int64_t kSteps = 30;
constexpr double kTolerance = 1e-6;

// step -> value of metric `name` in <out>/metrics.jsonl; a step recorded twice fails.
std::map<int64_t, double> Points(const std::string& out, const std::string& name) {
  std::map<int64_t, double> points;
  std::ifstream in(out + "/metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    std::optional<MetricLine> point = ParseMetricJsonLine(line);
    if (!point.has_value() || std::isnan(point->value)) {
      ADD_FAILURE() << "unexpected metrics line: " << line;
      continue;
    }
    if (name != point->name) continue;
    EXPECT_TRUE(points.emplace(point->step, point->value).second) << name << " twice at step " << point->step;
  }
  return points;
}

// Every point of `name` in `resumed` equals the one at the same step in `straight`
// (within kTolerance), and both hold the same steps.
void ExpectSameCurve(const std::string& straight, const std::string& resumed,
                     const std::string& name) {
  const std::map<int64_t, double> a = Points(straight, name), b = Points(resumed, name);
  ASSERT_FALSE(a.empty()) << name;
  EXPECT_EQ(a.size(), b.size()) << name;
  for (const auto& [step, value] : a) {
    ASSERT_TRUE(b.contains(step)) << name << " missing at step " << step;
    EXPECT_NEAR(b.at(step), value, kTolerance) << name << " at step " << step;
  }
}

void ExpectSameWeights(const std::string& a_path, const std::string& b_path) {
  absl::StatusOr<LoadedCheckpoint> a = LoadCheckpoint(a_path), b = LoadCheckpoint(b_path);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  const auto a_params = a->model->named_parameters(), b_params = b->model->named_parameters();
  ASSERT_EQ(a_params.size(), b_params.size());
  for (const auto& item : a_params) {
    const double diff = (item.value() - b_params[item.key()]).abs().max().item<double>();
    EXPECT_LE(diff, kTolerance) << item.key() << " of " << a_path << " vs " << b_path;
  }
}

// How a run ends early: as a crash (the hook throws; no stop checkpoint) or as a
// SIGTERM (the stop flag).
struct Interrupt {
  int64_t crash_after = 0;
  int64_t stop_after = 0;
};

class ResumeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 8; ++i) {
      std::string text;
      for (int line = 0; line < 40; ++line)
        text += absl::StrCat("def f", i, "_", line, "(x): return x * ", line, " - ", i, "\n");
      dir_.Write(absl::StrCat("corpus/file", i, ".txt"), text);
    }
  }

  // The toy run: 2 layers, 32 dims, block 16, with dropout so that resuming also
  // needs the generator's state.
  spec::RunSpec Spec() const {
    spec::RunSpec run;
    run.experiment = "resume-test";
    run.variant = "baseline";
    run.seed = 11;
    run.model.n_layer = 2;
    run.model.n_head = 2;
    run.model.n_embd = 32;
    run.model.block_size = 16;
    run.model.dropout = 0.1;
    run.data.path = dir_ / "corpus";
    run.data.glob = "*.txt";
    run.data.val_fraction = 0.25;
    spec::TrainingSpec& t = run.training;
    t.steps = kSteps;
    t.batch_size = 4;
    t.warmup_steps = 5;
    t.eval_every = 5;
    t.eval_batches = 2;
    t.log_every = 1;
    t.device = "cpu";
    t.checkpoint_every = 4;
    t.keep_checkpoints = 2;
    t.threads = 1;
    return run;
  }

  // Runs `spec` into <test dir>/<out>.
  absl::StatusOr<TrainResult> Train(const spec::RunSpec& spec, const std::string& out,
                                    TrainOptions options = {}, Interrupt interrupt = {}) {
    std::atomic<bool> stop{false};
    options.out_dir = dir_ / out;
    options.stop = &stop;
    options.after_step = [&](int64_t step) {
      if (step == interrupt.crash_after) throw std::runtime_error("simulated crash");
      if (step == interrupt.stop_after) stop = true;
    };
    return RunTraining(spec, options);
  }

  // Trains until just after `step` and ends as a crash would.
  void Crash(const spec::RunSpec& spec, const std::string& out, int64_t step) {
    const absl::StatusOr<TrainResult> crashed = Train(spec, out, {}, {.crash_after = step});
    ASSERT_EQ(crashed.status().code(), absl::StatusCode::kInternal) << crashed.status();
    ASSERT_THAT(crashed.status().message(), HasSubstr("simulated crash"));
  }

  std::vector<int64_t> Checkpoints(const std::string& out) {
    return *ListCheckpointSteps(dir_ / (out + "/checkpoints"));
  }

  gwo::testing::TestDir dir_;
};

TEST_F(ResumeTest, CrashedRunResumesOnTheUninterruptedCurve) {
  const spec::RunSpec spec = Spec();
  ASSERT_TRUE(Train(spec, "straight").ok());
  Crash(spec, "run", 14);
  EXPECT_THAT(Checkpoints("run"), ElementsAre(12, 8));

  absl::StatusOr<TrainResult> resumed = Train(spec, "run");
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->resumed_from, 12);
  EXPECT_EQ(resumed->steps_done, kSteps);
  // Steps 1..12 come from the crashed attempt, 13..30 from the resumed one; the
  // points the crashed attempt wrote for 13 and 14 are gone.
  ExpectSameCurve(dir_ / "straight", dir_ / "run", "train_loss");
  ExpectSameCurve(dir_ / "straight", dir_ / "run", "lr");
  ExpectSameCurve(dir_ / "straight", dir_ / "run", "val_loss");
  ExpectSameWeights(dir_ / "straight/final.ckpt", dir_ / "run/final.ckpt");
  ExpectSameWeights(dir_ / "straight/best.ckpt", dir_ / "run/best.ckpt");
  EXPECT_THAT(Checkpoints("run"), ElementsAre(28, 24));
}

TEST_F(ResumeTest, StopWritesCheckpointOfTheCurrentStepAndRerunResumesFromIt) {
  const spec::RunSpec spec = Spec();
  ASSERT_TRUE(Train(spec, "straight").ok());
  absl::StatusOr<TrainResult> stopped = Train(spec, "run", {}, {.stop_after = 13});
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  EXPECT_TRUE(stopped->stopped);
  EXPECT_EQ(stopped->steps_done, 13);
  EXPECT_THAT(Checkpoints("run"), ElementsAre(13, 12));
  EXPECT_FALSE(fs::exists(dir_ / "run/final.ckpt"));

  absl::StatusOr<TrainResult> resumed = Train(spec, "run");
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->resumed_from, 13);
  ExpectSameCurve(dir_ / "straight", dir_ / "run", "train_loss");
  ExpectSameWeights(dir_ / "straight/final.ckpt", dir_ / "run/final.ckpt");
}

TEST_F(ResumeTest, CorruptNewestCheckpointFallsBackToThePreviousOne) {
  const spec::RunSpec spec = Spec();
  ASSERT_TRUE(Train(spec, "straight").ok());
  Crash(spec, "run", 14);
  const std::string newest = CheckpointPath(dir_ / "run/checkpoints", 12);
  std::string bytes = *ReadFileToString(newest);
  bytes[bytes.size() / 3] ^= 0x40;
  ASSERT_TRUE(WriteFileAtomically(newest, bytes).ok());

  absl::StatusOr<TrainResult> resumed = Train(spec, "run");
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->resumed_from, 8);
  EXPECT_TRUE(fs::exists(newest + ".corrupt"));
  ExpectSameCurve(dir_ / "straight", dir_ / "run", "train_loss");
  ExpectSameWeights(dir_ / "straight/final.ckpt", dir_ / "run/final.ckpt");
}

TEST_F(ResumeTest, TruncatedNewestCheckpointFallsBackToThePreviousOne) {
  const spec::RunSpec spec = Spec();
  Crash(spec, "run", 14);
  const std::string newest = CheckpointPath(dir_ / "run/checkpoints", 12);
  ASSERT_TRUE(WriteFileAtomically(newest, ReadFileToString(newest)->substr(0, 1000)).ok());
  absl::StatusOr<TrainResult> resumed = Train(spec, "run");
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->resumed_from, 8);
}

TEST_F(ResumeTest, KeepsOnlyTheNewestCheckpoints) {
  spec::RunSpec spec = Spec();
  spec.training.keep_checkpoints = 3;
  ASSERT_TRUE(Train(spec, "run").ok());
  EXPECT_THAT(Checkpoints("run"), ElementsAre(28, 24, 20));
  int files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir_ / "run/checkpoints")) ++files;
  EXPECT_EQ(files, 3);  // no temporary files either
}

TEST_F(ResumeTest, CheckpointOfAnotherSpecIsRefusedUnlessResumeIsOff) {
  const spec::RunSpec spec = Spec();
  Crash(spec, "run", 14);
  spec::RunSpec other = spec;
  other.training.lr = 1e-2;
  const absl::StatusOr<TrainResult> refused = Train(other, "run");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(),
              HasSubstr("training.lr: 0.003 in the checkpoint, 0.01 now"));
  EXPECT_THAT(refused.status().message(), HasSubstr("--resume=false"));
  EXPECT_THAT(Checkpoints("run"), ElementsAre(12, 8));  // untouched

  absl::StatusOr<TrainResult> fresh = Train(other, "run", {.resume = false});
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_EQ(fresh->resumed_from, 0);
  EXPECT_EQ(Points(dir_ / "run", "train_loss").size(), static_cast<size_t>(kSteps));
  EXPECT_EQ(Points(dir_ / "run", "params_total").size(), 1u);
  EXPECT_THAT(Checkpoints("run"), ElementsAre(28, 24));
}

TEST_F(ResumeTest, PrecisionIsRecordedResolvedAndABf16RunResumesOnItsCurveButNotAsFp32) {
  spec::RunSpec spec = Spec();
  spec.training.precision = "bf16";  // autocast on CPU too
  ASSERT_TRUE(Train(spec, "straight").ok());
  Crash(spec, "run", 14);
  ASSERT_TRUE(Train(spec, "run").ok());
  ExpectSameCurve(dir_ / "straight", dir_ / "run", "train_loss");
  absl::StatusOr<LoadedCheckpoint> final_ckpt = LoadCheckpoint(dir_ / "run/final.ckpt");
  ASSERT_TRUE(final_ckpt.ok()) << final_ckpt.status();
  EXPECT_EQ(final_ckpt->spec.training.precision, "bf16");
  for (const auto& p : final_ckpt->model->parameters()) EXPECT_EQ(p.scalar_type(), torch::kFloat);

  // "auto" resolves to fp32 on CPU, and run.yaml says so; the bf16 checkpoints refuse it.
  Crash(spec, "run2", 14);
  spec::RunSpec as_auto = spec;
  as_auto.training.precision = "auto";
  const absl::StatusOr<TrainResult> refused = Train(as_auto, "run2");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("training.precision: bf16 in the checkpoint, fp32 now"));
  ASSERT_TRUE(Train(as_auto, "run2", {.resume = false}).ok());
  std::ifstream run_yaml(dir_ / "run2/run.yaml");
  const std::string yaml((std::istreambuf_iterator<char>(run_yaml)), std::istreambuf_iterator<char>());
  EXPECT_THAT(yaml, HasSubstr("precision: fp32"));

  // fp16 needs CUDA: refused before anything is written.
  spec::RunSpec fp16 = spec;
  fp16.training.precision = "fp16";
  const absl::StatusOr<TrainResult> no_fp16 = Train(fp16, "run3");
  EXPECT_EQ(no_fp16.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(no_fp16.status().message(), HasSubstr("needs a CUDA device"));
}

TEST_F(ResumeTest, BestCheckpointHoldsTheWeightsOfTheLowestValLoss) {
  spec::RunSpec spec = Spec();
  spec.training.lr = 0.3;  // high and constant, so val_loss goes up and down
  spec.training.min_lr = 0.3;
  spec.training.eval_every = 3;
  spec.training.checkpoint_every = 3;  // a checkpoint beside every evaluation
  spec.training.keep_checkpoints = 100;
  // The test needs a run whose best evaluation is not its last (else best.ckpt and
  // final.ckpt could not be told apart): take the first seed that gives one.
  for (int64_t seed = 11; seed < 31; ++seed) {
    spec.seed = seed;
    const std::string name = absl::StrCat("run", seed);
    ASSERT_TRUE(Train(spec, name).ok());
    const std::map<int64_t, double> val_loss = Points(dir_ / name, "val_loss");
    ASSERT_EQ(val_loss.size(), 10u);
    auto best = val_loss.begin();
    for (auto it = val_loss.begin(); it != val_loss.end(); ++it) {
      if (it->second < best->second) best = it;
    }
    if (best->first == kSteps) continue;
    const std::filesystem::path run_dir = dir_ / name;
    ExpectSameWeights(run_dir / "best.ckpt", CheckpointPath(run_dir / "checkpoints", best->first));
    return;
  }
  FAIL() << "no seed in [11, 31) gave a best evaluation before the last step";
}

TEST_F(ResumeTest, ResumesFromACheckpointOfAnotherDirectory) {
  const spec::RunSpec spec = Spec();
  ASSERT_TRUE(Train(spec, "straight").ok());
  Crash(spec, "attempt1", 14);
  absl::StatusOr<TrainResult> resumed =
      Train(spec, "attempt2", {.resume_from = CheckpointPath(dir_ / "attempt1/checkpoints", 12)});
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->resumed_from, 12);
  const std::map<int64_t, double> straight = Points(dir_ / "straight", "train_loss");
  const std::map<int64_t, double> continued = Points(dir_ / "attempt2", "train_loss");
  ASSERT_EQ(continued.size(), static_cast<size_t>(kSteps - 12));  // only new points
  for (const auto& [step, value] : continued) EXPECT_NEAR(value, straight.at(step), kTolerance);
  ExpectSameWeights(dir_ / "straight/final.ckpt", dir_ / "attempt2/final.ckpt");
  ExpectSameWeights(dir_ / "straight/best.ckpt", dir_ / "attempt2/best.ckpt");
}

TEST_F(ResumeTest, EvaluationCutShortByAStopIsRunOnResume) {
  spec::RunSpec spec = Spec();
  spec.training.checkpoint_every = 5;  // beside the evaluations at 5, 10, ...
  ASSERT_TRUE(Train(spec, "straight").ok());
  Crash(spec, "run", 11);
  // Make the run look as if a stop had cut the evaluation of step 10 short: its
  // checkpoint says so, and metrics.jsonl lacks its points.
  const std::string path = CheckpointPath(dir_ / "run/checkpoints", 10);
  CheckpointContents contents = *DecodeCheckpoint(*ReadFileToString(path), path);
  models::Gpt2 model = *models::MakeGpt2(spec.model, spec.attention, 256);
  std::unique_ptr<torch::optim::AdamW> optimizer = MakeAdamW(*model, spec.training);
  absl::StatusOr<LoopState> loop =
      RestoreTrainingState(contents.state_bytes, *optimizer, torch::Device(torch::kCPU));
  ASSERT_TRUE(loop.ok()) << loop.status();
  ASSERT_EQ(loop->step, 10);
  ASSERT_FALSE(loop->eval_pending);
  loop->eval_pending = true;
  contents.state_bytes = SerializeTrainingState(*loop, *optimizer, torch::Device(torch::kCPU));
  ASSERT_TRUE(WriteFileAtomically(path, EncodeCheckpoint(contents)).ok());
  std::string metrics;
  for (const std::string& line : std::vector<std::string>(absl::StrSplit(
           *ReadFileToString(dir_ / "run/metrics.jsonl"), '\n', absl::SkipEmpty()))) {
    if (!absl::StartsWith(line, "{\"step\":10,\"name\":\"val_"))
      absl::StrAppend(&metrics, line, "\n");
  }
  ASSERT_TRUE(WriteFileAtomically(dir_ / "run/metrics.jsonl", metrics).ok());

  absl::StatusOr<TrainResult> resumed = Train(spec, "run");
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->resumed_from, 10);
  ExpectSameCurve(dir_ / "straight", dir_ / "run", "val_loss");  // step 10's included
  ExpectSameCurve(dir_ / "straight", dir_ / "run", "train_loss");
}

TEST_F(ResumeTest, FinalCheckpointIsNotAResumePoint) {
  const spec::RunSpec spec = Spec();
  ASSERT_TRUE(Train(spec, "run").ok());
  const absl::StatusOr<TrainResult> refused =
      Train(spec, "other", {.resume_from = dir_ / "run/final.ckpt"});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("weights only"));
}

}  // namespace
}  // namespace gwo::trainer
