#include "worker/trainer/checkpoint.h"

#include <torch/torch.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spec/parse.h"
#include "tests/worker/test_dir.h"
#include "worker/data/fnv1a.h"
#include "worker/models/gpt2.h"
#include "worker/trainer/checkpoint_format.h"
#include "worker/trainer/file_io.h"

namespace gwo::trainer {
namespace {

using ::testing::HasSubstr;

spec::RunSpec SmallRun() {
  spec::RunSpec run;
  run.experiment = "ckpt-test";
  run.variant = "baseline";
  run.seed = 7;
  run.model.n_layer = 2;
  run.model.n_head = 2;
  run.model.n_embd = 16;
  run.model.block_size = 8;
  run.data.path = "/nonexistent/corpus";
  run.training.steps = 30;
  return run;
}

models::Gpt2 TrainedLikeModel(const spec::RunSpec& run) {
  torch::manual_seed(run.seed);
  models::Gpt2 model = *models::MakeGpt2(run.model, run.attention, 256);
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters()) p.add_(torch::randn_like(p) * 0.1);  // not the init
  model->eval();
  return model;
}

class CheckpointTest : public ::testing::Test {
 protected:
  // Writes a valid checkpoint and returns its bytes.
  std::string WriteValid() {
    EXPECT_TRUE(SaveCheckpoint(path_, run_, *model_).ok());
    return *ReadFileToString(path_);
  }
  absl::Status LoadStatus(const std::string& bytes) {
    EXPECT_TRUE(WriteFileAtomically(path_, bytes).ok());
    return LoadCheckpoint(path_).status();
  }

  gwo::testing::TestDir dir_;
  std::string path_ = dir_ / "final.ckpt";
  spec::RunSpec run_ = SmallRun();
  models::Gpt2 model_ = TrainedLikeModel(run_);
};

TEST_F(CheckpointTest, RoundTripRestoresIdenticalLogitsAndEmbedsTheSpec) {
  WriteValid();
  absl::StatusOr<LoadedCheckpoint> loaded = LoadCheckpoint(path_);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(spec::RunSpecToYaml(loaded->spec), spec::RunSpecToYaml(run_));
  EXPECT_EQ(loaded->spec.seed, 7);
  const torch::Tensor idx = torch::randint(0, 256, {2, 8}, torch::kLong);
  EXPECT_TRUE(torch::equal(loaded->model->forward(idx), model_->forward(idx)));
}

TEST_F(CheckpointTest, VersionOneFinalCheckpointStillLoads) {
  // Version 2 with an empty state is version 1 plus a zero state length.
  std::string file = WriteValid();
  ASSERT_EQ(file.substr(file.size() - 16, 8), std::string(8, '\0'));
  file.resize(file.size() - 16);
  file[8] = 1;
  for (uint64_t sum = data::Fnv1a64(file), i = 0; i < 8; ++i) {
    file.push_back(static_cast<char>((sum >> (8 * i)) & 0xff));
  }
  ASSERT_TRUE(WriteFileAtomically(path_, file).ok());
  absl::StatusOr<LoadedCheckpoint> loaded = LoadCheckpoint(path_);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const torch::Tensor idx = torch::randint(0, 256, {2, 8}, torch::kLong);
  EXPECT_TRUE(torch::equal(loaded->model->forward(idx), model_->forward(idx)));
}

TEST_F(CheckpointTest, TruncatedFileIsRefused) {
  const std::string file = WriteValid();
  for (const size_t n : {size_t{0}, size_t{5}, size_t{30}, file.size() / 2, file.size() - 1}) {
    const absl::Status status = LoadStatus(file.substr(0, n));
    EXPECT_FALSE(status.ok()) << n;
  }
  EXPECT_THAT(LoadStatus(file.substr(0, file.size() / 2)).message(), HasSubstr("truncated"));
}

TEST_F(CheckpointTest, BitFlipIsRefused) {
  const std::string file = WriteValid();
  for (const size_t i : {size_t{20}, file.size() / 2, file.size() - 3}) {
    std::string bad = file;
    bad[i] = static_cast<char>(bad[i] ^ 0x10);
    const absl::Status status = LoadStatus(bad);
    EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << i << ": " << status;
  }
}

TEST_F(CheckpointTest, WrongMagicIsRefused) {
  std::string file = WriteValid();
  file.replace(0, 3, "ZIP");
  EXPECT_THAT(LoadStatus(file).message(), HasSubstr("not a gwo checkpoint"));
}

TEST_F(CheckpointTest, GarbageModelBytesWithValidChecksumAreRefused) {
  const std::string garbage = EncodeCheckpoint(
      {.spec_yaml = spec::RunSpecToYaml(run_), .model_bytes = "definitely not a torch archive"});
  const absl::Status status = LoadStatus(garbage);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
}

TEST_F(CheckpointTest, WeightsOfAnotherShapeAreRefused) {
  spec::RunSpec wider = run_;
  wider.model.n_embd = 32;
  const std::string mismatched = EncodeCheckpoint(
      {.spec_yaml = spec::RunSpecToYaml(wider), .model_bytes = SerializeModuleState(*model_)});
  const absl::Status status = LoadStatus(mismatched);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  EXPECT_THAT(status.message(), HasSubstr("wte.weight"));
}

TEST_F(CheckpointTest, MissingFileIsNotFound) {
  EXPECT_EQ(LoadCheckpoint(dir_ / "absent.ckpt").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace gwo::trainer
