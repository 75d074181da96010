// Runs the gwo-train binary as gwo-worker does: --events-fd on a pipe, stdout and
// stderr captured, SIGTERM to cancel.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/worker/test_dir.h"

namespace gwo::trainer {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr int kEventsFd = 3;

std::string TinySpec(const std::string& corpus, int64_t steps) {
  return absl::StrCat(
      R"(experiment: "binary-test"
variant: "baseline"
seed: 5
model: {n_layer: 1, n_head: 2, n_embd: 16, block_size: 16}
data: {path: ")",
      corpus, R"(", glob: "*.txt", val_fraction: 0.25}
training: {steps: )",
      steps,
      R"(, batch_size: 4, warmup_steps: 2, eval_every: 10, eval_batches: 2, log_every: 5, device: cpu, threads: 1}
)");
}

class GwoTrainBinary : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* bin = std::getenv("GWO_BIN_DIR");
    ASSERT_NE(bin, nullptr) << "GWO_BIN_DIR is not set (run through ctest)";
    binary_ = std::string(bin) + "/gwo-train";
    for (int i = 0; i < 8; ++i) {
      std::string text;
      for (int line = 0; line < 40; ++line)
        text += absl::StrCat("def f", i, "_", line, "(x): return x + ", line, "\n");
      dir_.Write(absl::StrCat("corpus/file", i, ".txt"), text);
    }
  }

  // Starts gwo-train with --spec and --out in the test dir; the events pipe's read
  // end goes to events_read_.
  void Start(const std::string& spec_yaml) {
    dir_.Write("run.yaml", spec_yaml);
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_ = fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      dup2(fds[1], kEventsFd);
      const int out = open((dir_ / "stdout").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      const int err = open((dir_ / "stderr").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(out, 1);
      dup2(err, 2);
      const std::string spec = dir_ / "run.yaml", outdir = dir_ / "out";
      execl(binary_.c_str(), "gwo-train", "--spec", spec.c_str(), "--out", outdir.c_str(),
            "--events-fd", "3", static_cast<char*>(nullptr));
      _exit(127);
    }
    close(fds[1]);
    events_read_ = fds[0];
  }

  // Reads event lines until EOF or until a line containing `until` arrives.
  std::vector<std::string> ReadEvents(const std::string& until = "") {
    std::vector<std::string> lines;
    std::string pending;
    char buffer[4096];
    for (ssize_t n; (n = read(events_read_, buffer, sizeof(buffer))) > 0;) {
      pending.append(buffer, n);
      for (size_t eol; (eol = pending.find('\n')) != std::string::npos;) {
        lines.push_back(pending.substr(0, eol));
        pending.erase(0, eol + 1);
        if (!until.empty() && lines.back().find(until) != std::string::npos) return lines;
      }
    }
    return lines;
  }

  int Wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    close(events_read_);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  std::string Read(const std::string& name) {
    std::ifstream in(dir_ / name);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  gwo::testing::TestDir dir_;
  std::string binary_;
  pid_t pid_ = -1;
  int events_read_ = -1;
};

TEST_F(GwoTrainBinary, CompletesReportingEveryMetricAndWritesCheckpoint) {
  Start(TinySpec(dir_ / "corpus", 20));
  const std::vector<std::string> events = ReadEvents();
  ASSERT_EQ(Wait(), 0) << Read("stderr");
  // step 0: 2 params; steps 1, 5, 10, 15, 20: 3 train points each; steps 10, 20: 2 val points.
  EXPECT_EQ(events.size(), 2u + 5 * 3 + 2 * 2);
  EXPECT_THAT(events, ::testing::Contains(StartsWith("metric\t0\tparams_total\t")));
  EXPECT_THAT(events, ::testing::Contains(StartsWith("metric\t1\ttrain_loss\t")));
  EXPECT_THAT(events, ::testing::Contains(StartsWith("metric\t20\tval_ppl\t")));
  for (const std::string& line : events) {
    EXPECT_EQ(std::vector<std::string>(absl::StrSplit(line, '\t')).size(), 4u) << line;
  }
  const std::vector<std::string> jsonl =
      absl::StrSplit(Read("out/metrics.jsonl"), '\n', absl::SkipEmpty());
  EXPECT_EQ(jsonl.size(), events.size());
  EXPECT_TRUE(std::filesystem::exists(dir_ / "out/final.ckpt"));
  EXPECT_THAT(Read("out/run.yaml"), HasSubstr("binary-test"));
  EXPECT_THAT(Read("stdout"), HasSubstr("final val_loss "));
}

TEST_F(GwoTrainBinary, SigtermStopsWithExitCode143AndNoCheckpoint) {
  Start(TinySpec(dir_ / "corpus", 1000000));
  const std::vector<std::string> events = ReadEvents("train_loss");
  ASSERT_FALSE(events.empty());
  kill(pid_, SIGTERM);
  ReadEvents();
  EXPECT_EQ(Wait(), 143) << Read("stderr");
  EXPECT_FALSE(std::filesystem::exists(dir_ / "out/final.ckpt"));
}

TEST_F(GwoTrainBinary, BadSpecExitsOneWithMessageOnStderr) {
  Start(TinySpec(dir_ / "no-such-corpus", 10));
  ReadEvents();
  EXPECT_EQ(Wait(), 1);
  EXPECT_THAT(Read("stderr"), StartsWith("gwo-train: error: "));
  EXPECT_THAT(Read("stderr"), HasSubstr("no-such-corpus"));
}

}  // namespace
}  // namespace gwo::trainer
