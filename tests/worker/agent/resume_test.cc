// Choosing the checkpoint a new attempt continues from, on real files: the newest
// valid one across earlier attempts' outputs, passing over corrupt ones, and the
// metric history up to it.
#include "worker/agent/resume.h"

#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"
#include "spec/parse.h"
#include "worker/trainer/checkpoint_format.h"

namespace gwo::worker {
namespace {

class ResumeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/gwo-resume-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    spec_.experiment = "e";
    spec_.variant = "v";
    spec_.data.name = "d";
    spec_.data.path = dir_;
    spec_yaml_ = spec::RunSpecToYaml(spec_);
    ASSERT_TRUE(spec::ParseRunSpec(spec_yaml_, "run.yaml").ok()) << spec::ParseRunSpec(spec_yaml_, "run.yaml").status();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Writes <out>/checkpoints/step-<step>.ckpt for spec_ (or corrupt bytes).
  void Checkpoint(const std::string& out, int step, bool corrupt = false) {
    std::filesystem::create_directories(out + "/checkpoints");
    std::string bytes = trainer::EncodeCheckpoint({spec_yaml_, "model", "state"});
    if (corrupt) bytes[bytes.size() / 2] ^= 0x5a;
    std::ofstream(out + "/checkpoints/step-" + std::to_string(step) + ".ckpt", std::ios::binary) << bytes;
  }

  std::string dir_;
  spec::RunSpec spec_;
  std::string spec_yaml_;
};

TEST_F(ResumeTest, NoEarlierAttemptsStartFromScratch) {
  ResumeChoice c = ChooseResume(spec_yaml_, {});
  EXPECT_TRUE(c.checkpoint.empty());
  EXPECT_EQ(c.step, 0);
}

TEST_F(ResumeTest, CorruptNewestFallsBackToOlderWithHistory) {
  const std::string a1 = dir_ + "/attempt-1/out", a2 = dir_ + "/attempt-2/out";
  Checkpoint(a1, 10);
  Checkpoint(a2, 30, /*corrupt=*/true);
  std::filesystem::create_directories(a2);
  std::ofstream(a1 + "/metrics.jsonl") << "{\"step\":0,\"name\":\"params_total\",\"value\":100}\n"
                                       << "{\"step\":5,\"name\":\"train_loss\",\"value\":2.5}\n"
                                       << "{\"step\":10,\"name\":\"val_loss\",\"value\":null}\n"
                                       << "{\"step\":15,\"name\":\"train_loss\",\"value\":2.1}\n";
  ResumeChoice c = ChooseResume(spec_yaml_, {a2, a1});  // newest attempt first
  EXPECT_EQ(c.checkpoint, a1 + "/checkpoints/step-10.ckpt");
  EXPECT_EQ(c.step, 10);
  ASSERT_EQ(c.history.size(), 3u);
  EXPECT_EQ(c.history[1].name(), "train_loss");
  EXPECT_DOUBLE_EQ(c.history[1].value(), 2.5);
  EXPECT_TRUE(std::isnan(c.history[2].value()));
  EXPECT_EQ(c.history_jsonl.find("\"step\":15"), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(a2 + "/checkpoints/step-30.ckpt.corrupt"));
  std::string log;
  for (const std::string& line : c.log) log += line + "\n";
  EXPECT_NE(log.find("step-30.ckpt"), std::string::npos) << log;
  EXPECT_NE(log.find("resuming from"), std::string::npos) << log;
}

TEST_F(ResumeTest, CheckpointOfAnotherSpecIsPassedOver) {
  const std::string a1 = dir_ + "/attempt-1/out";
  spec::RunSpec other = spec_;
  other.training.lr = spec_.training.lr * 2;
  std::filesystem::create_directories(a1 + "/checkpoints");
  std::ofstream(a1 + "/checkpoints/step-10.ckpt", std::ios::binary)
      << trainer::EncodeCheckpoint({spec::RunSpecToYaml(other), "model", "state"});
  ResumeChoice c = ChooseResume(spec_yaml_, {a1, dir_ + "/missing"});
  EXPECT_TRUE(c.checkpoint.empty());
  EXPECT_EQ(c.step, 0);
  EXPECT_FALSE(c.log.empty());
}

TEST_F(ResumeTest, ParsesMetricJsonLines) {
  gwo::v1::MetricPoint p;
  ASSERT_TRUE(ParseMetricJson("{\"step\":12,\"name\":\"a\\\"b\",\"value\":-1.5e-3}", &p));
  EXPECT_EQ(p.step(), 12);
  EXPECT_EQ(p.name(), "a\"b");
  EXPECT_DOUBLE_EQ(p.value(), -1.5e-3);
  EXPECT_FALSE(ParseMetricJson("{\"step\":-1,\"name\":\"a\",\"value\":1}", &p));
  EXPECT_FALSE(ParseMetricJson("not json", &p));
}

}  // namespace
}  // namespace gwo::worker
