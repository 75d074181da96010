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
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/metric_line.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/worker/test_dir.h"

namespace gwo::trainer {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr int kEventsFd = 3;

// A one-layer run; checkpoint_every > 0 turns on training-state checkpoints.
std::string TinySpec(const std::string& corpus, int64_t steps, int64_t checkpoint_every = 0,
                     int64_t log_every = 5, double dropout = 0.0) {
  return absl::StrCat(
      R"(experiment: "binary-test"
variant: "baseline"
seed: 5
model: {n_layer: 1, n_head: 2, n_embd: 16, block_size: 16, dropout: )",
      dropout, R"(}
data: {path: ")",
      corpus, R"(", glob: "*.txt", val_fraction: 0.25}
training: {steps: )",
      steps, R"(, batch_size: 4, warmup_steps: 2, eval_every: 10, eval_batches: 2, log_every: )",
      log_every, ", checkpoint_every: ", checkpoint_every, R"(, device: cpu, threads: 1}
)");
}

// step -> value of the `name` events among `events`.
std::map<int64_t, double> EventValues(const std::vector<std::string>& events,
                                      const std::string& name) {
  std::map<int64_t, double> values;
  for (const std::string& line : events) {
    const std::vector<std::string> fields = absl::StrSplit(line, '\t');
    if (fields.size() == 4 && fields[2] == name)
      values[std::stoll(fields[1])] = std::stod(fields[3]);
  }
  return values;
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

  // Starts gwo-train with --spec and --out <test dir>/<out_name>; the events pipe's read
  // end goes to events_read_.
  void Start(const std::string& spec_yaml, const std::string& out_name = "out") {
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
      const std::string spec = dir_ / "run.yaml", outdir = dir_ / out_name;
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
  // + train_step_peak_mem_bytes at step 1.
  EXPECT_EQ(events.size(), 2u + 5 * 3 + 2 * 2 + 1);
  EXPECT_THAT(events, ::testing::Contains(StartsWith("metric\t1\ttrain_step_peak_mem_bytes\t")));
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

// Exit code 2 tells gwo-worker that another attempt cannot help (the run fails at
// once); 1, that it may (the run is retried).
TEST_F(GwoTrainBinary, FailuresThatRetryingCannotFixExitWithCode2) {
  Start("experiment: x\nmodel: {n_layer: -1}\n");
  ReadEvents();
  EXPECT_EQ(Wait(), 2) << Read("stderr");
  EXPECT_THAT(Read("stderr"), HasSubstr("gwo-train: error: "));
  // A context longer than the corpus can fill: the data cannot satisfy the spec.
  Start(absl::StrReplaceAll(TinySpec(dir_ / "corpus", 5), {{"block_size: 16", "block_size: 100000"}}));
  ReadEvents();
  EXPECT_EQ(Wait(), 2) << Read("stderr");
}

TEST_F(GwoTrainBinary, SigtermStopsWithExitCode143AndNoCheckpoint) {
  Start(TinySpec(dir_ / "corpus", 1000000));
  const std::vector<std::string> events = ReadEvents("train_loss");
  ASSERT_FALSE(events.empty());
  kill(pid_, SIGTERM);
  ReadEvents();
  EXPECT_EQ(Wait(), 143) << Read("stderr");
  EXPECT_FALSE(std::filesystem::exists(dir_ / "out/final.ckpt"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "out/checkpoints"));  // checkpoint_every 0
}

TEST_F(GwoTrainBinary, SigtermWritesCheckpointExits143AndRerunResumesFromIt) {
  const std::string spec =
      TinySpec(dir_ / "corpus", 400, /*checkpoint_every=*/100, /*log_every=*/1);
  Start(spec);
  ASSERT_FALSE(ReadEvents("train_loss").empty());
  kill(pid_, SIGTERM);
  ReadEvents();
  ASSERT_EQ(Wait(), 143) << Read("stderr");
  long long step = 0;
  ASSERT_EQ(
      std::sscanf(Read("stderr").c_str(), "gwo-train: stopped by signal after step %lld", &step), 1)
      << Read("stderr");
  ASSERT_GT(step, 0);
  EXPECT_TRUE(std::filesystem::exists(dir_ / absl::StrCat("out/checkpoints/step-", step, ".ckpt")));

  Start(spec);
  const std::vector<std::string> events = ReadEvents();
  ASSERT_EQ(Wait(), 0) << Read("stderr");
  EXPECT_THAT(Read("stdout"), HasSubstr(absl::StrCat("step-", step, ".ckpt at step ", step + 1)));
  ASSERT_FALSE(events.empty());
  EXPECT_THAT(events.front(),
              StartsWith(absl::StrCat("metric\t", step + 1, "\t")));  // only new points
  EXPECT_TRUE(std::filesystem::exists(dir_ / "out/final.ckpt"));
}

TEST_F(GwoTrainBinary, KilledRunRerunFollowsTheStraightRunsLossCurve) {
  const std::string spec = TinySpec(dir_ / "corpus", 100, /*checkpoint_every=*/4, /*log_every=*/1,
                                    /*dropout=*/0.1);
  Start(spec, "straight");
  const std::map<int64_t, double> straight = EventValues(ReadEvents(), "train_loss");
  ASSERT_EQ(Wait(), 0) << Read("stderr");

  Start(spec, "out");
  const std::string checkpoint = dir_ / "out/checkpoints/step-12.ckpt";
  int status = 0;
  while (!std::filesystem::exists(checkpoint) && waitpid(pid_, &status, WNOHANG) == 0) usleep(200);
  kill(pid_, SIGKILL);
  ASSERT_EQ(Wait(), 128 + SIGKILL) << "the run ended before it could be killed";
  std::map<int64_t, double> killed;
  for (const std::string& line : std::vector<std::string>(
           absl::StrSplit(Read("out/metrics.jsonl"), '\n', absl::SkipEmpty()))) {
    std::optional<MetricLine> point = ParseMetricJsonLine(line);
    if (point.has_value() && point->name == "train_loss") killed[point->step] = point->value;
  }

  Start(spec, "out");
  const std::map<int64_t, double> resumed = EventValues(ReadEvents(), "train_loss");
  ASSERT_EQ(Wait(), 0) << Read("stderr");
  EXPECT_THAT(Read("stdout"), HasSubstr("resuming from "));
  ASSERT_FALSE(resumed.empty());
  const int64_t first = resumed.begin()->first;
  EXPECT_GE(first, 13);
  EXPECT_EQ(first % 4, 1);  // right after a checkpoint
  EXPECT_EQ(resumed.rbegin()->first, 100);
  for (const auto& [step, value] : resumed) EXPECT_NEAR(value, straight.at(step), 1e-6) << step;
  // The killed attempt's points up to the checkpoint stay; the others are replaced.
  for (int64_t step = 1; step < first; ++step) {
    ASSERT_TRUE(killed.contains(step)) << step;
    EXPECT_NEAR(killed.at(step), straight.at(step), 1e-6) << step;
  }
}

TEST_F(GwoTrainBinary, MissingCorpusExitsNotRetryableWithMessageOnStderr) {
  Start(TinySpec(dir_ / "no-such-corpus", 10));
  ReadEvents();
  EXPECT_EQ(Wait(), 2);  // 2: a retry cannot help (see worker/trainer/main.cc)
  EXPECT_THAT(Read("stderr"), StartsWith("gwo-train: error: "));
  EXPECT_THAT(Read("stderr"), HasSubstr("no-such-corpus"));
}

}  // namespace
}  // namespace gwo::trainer
