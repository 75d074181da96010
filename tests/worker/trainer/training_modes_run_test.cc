// The training modes through RunTraining: a teacher run, then a LoRA student that
// distills from it with a natural-optimizer model beside it, measured on every extra.
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/metric_line.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/worker/test_dir.h"
#include "worker/trainer/checkpoint.h"
#include "worker/trainer/train.h"

namespace gwo::trainer {
namespace {

using ::testing::HasSubstr;
using ::testing::IsSupersetOf;

// name -> last value of each metric in <out>/metrics.jsonl.
std::map<std::string, double> LastPoints(const std::string& out) {
  std::map<std::string, double> points;
  std::ifstream in(out + "/metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    if (std::optional<MetricLine> point = ParseMetricJsonLine(line)) points[point->name] = point->value;
  }
  return points;
}

std::set<std::string> Names(const std::map<std::string, double>& points) {
  std::set<std::string> names;
  for (const auto& [name, value] : points) names.insert(name);
  return names;
}

class TrainingModesRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 6; ++i) {
      std::string text;
      for (int line = 0; line < 30; ++line) text += absl::StrCat("the cat ", i, " sat on mat ", line, ".\n");
      dir_.Write(absl::StrCat("corpus/doc", i, ".txt"), text);
    }
  }

  spec::RunSpec Spec() const {
    spec::RunSpec run;
    run.experiment = "modes";
    run.variant = "v";
    run.seed = 3;
    run.model.n_layer = 2;
    run.model.n_head = 2;
    run.model.n_embd = 16;
    run.model.block_size = 16;
    run.data.path = dir_ / "corpus";
    run.data.val_fraction = 0.3;
    spec::TrainingSpec& t = run.training;
    t.steps = 6;
    t.batch_size = 4;
    t.warmup_steps = 1;
    t.eval_every = 3;
    t.eval_batches = 2;
    t.log_every = 3;
    t.device = "cpu";
    return run;
  }

  gwo::testing::TestDir dir_;
};

TEST_F(TrainingModesRunTest, LoraDistillationBesideANaturalModelRecordsEveryMetric) {
  const std::string teacher_out = dir_ / "teacher";
  ASSERT_TRUE(RunTraining(Spec(), {.out_dir = teacher_out}).ok());

  spec::RunSpec spec = Spec();
  spec.seed = 4;
  spec::TrainingSpec& t = spec.training;
  t.lm_weight = 0.5;
  t.distill.teacher = teacher_out + "/final.ckpt";
  t.distill.weight = 1.0;
  t.distill.temperature = 2.0;
  t.trainable.mode = "lora";
  t.trainable.lora.rank = 2;
  t.side_by_side.enabled = true;
  t.side_by_side.optimizer.name = "natural";
  t.side_by_side.prefix = "nat_";
  t.metrics.memory_lengths = {8, 16, 32};
  t.metrics.fidelity_batches = 1;
  t.generate.prompts = {"the cat", ""};
  t.generate.max_new_tokens = 5;
  t.generate.top_k = 3;
  const std::string out = dir_ / "student";
  absl::StatusOr<TrainResult> result = RunTraining(spec, {.out_dir = out});
  ASSERT_TRUE(result.ok()) << result.status();

  const auto points = LastPoints(out);
  EXPECT_THAT(Names(points),
              IsSupersetOf({"params_total", "params_trainable", "train_loss", "train_lm_loss",
                            "train_distill_loss", "val_loss", "val_ppl", "val_kl_teacher", "attn_prob_mse",
                            "attn_grad_cosine", "train_step_peak_mem_bytes", "infer_peak_mem_bytes_len8",
                            "infer_peak_mem_bytes_len16", "infer_tokens_per_s_len16", "tokens_per_s",
                            "nat_train_loss", "nat_val_loss", "nat_params_trainable", "nat_val_kl_teacher",
                            "nat_natural_lr_scale_l0", "nat_natural_lr_scale_l1"}));
  EXPECT_FALSE(points.contains("infer_peak_mem_bytes_len32"));  // above block_size
  // LoRA rank 2 on c_attn (16 -> 48) and attn.c_proj (16 -> 16) of 2 layers.
  EXPECT_EQ(points.at("params_trainable"), 2 * (2 * (16 + 48) + 2 * (16 + 16)));
  EXPECT_GT(points.at("params_total"), points.at("params_trainable"));
  EXPECT_GT(points.at("val_kl_teacher"), 0.0);
  EXPECT_GE(points.at("attn_prob_mse"), 0.0);
  EXPECT_LE(std::abs(points.at("attn_grad_cosine")), 1.0);
  EXPECT_GT(points.at("train_step_peak_mem_bytes"), 0.0);

  // Samples: one JSON line per prompt.
  std::ifstream samples(out + "/samples.jsonl");
  std::string line;
  ASSERT_TRUE(std::getline(samples, line));
  EXPECT_THAT(line, HasSubstr("\"prompt\":\"the cat\""));
  EXPECT_THAT(line, HasSubstr("\"greedy\":"));
  ASSERT_TRUE(std::getline(samples, line));

  // final.ckpt holds the merged weights of a plain model of the spec.
  absl::StatusOr<LoadedCheckpoint> final_ckpt = LoadCheckpoint(out + "/final.ckpt");
  ASSERT_TRUE(final_ckpt.ok()) << final_ckpt.status();
  for (const auto& item : final_ckpt->model->named_parameters()) {
    EXPECT_EQ(item.key().find("_lora"), std::string::npos) << item.key();
  }
  EXPECT_TRUE(std::filesystem::exists(out + "/final/model.safetensors"));
}

TEST_F(TrainingModesRunTest, TeacherOfAnotherVocabularyIsAnError) {
  spec::RunSpec teacher_spec = Spec();
  teacher_spec.model.vocab_size = 300;
  const std::string teacher_out = dir_ / "teacher";
  ASSERT_TRUE(RunTraining(teacher_spec, {.out_dir = teacher_out}).ok());
  spec::RunSpec spec = Spec();
  spec.training.distill.teacher = teacher_out + "/final.ckpt";
  absl::StatusOr<TrainResult> result = RunTraining(spec, {.out_dir = dir_ / "student"});
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("has a vocabulary of 300 tokens"));
}

}  // namespace
}  // namespace gwo::trainer
