#include "worker/agent/attempt_runner.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <vector>

#include "gtest/gtest.h"
#include "spec/parse.h"
#include "worker/trainer/checkpoint_format.h"

namespace gwo::worker {
namespace {

// A stand-in for gwo-train: a shell script with the same command line and pipes.
class AttemptRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/gwo-runner-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Script(const std::string& body) {
    std::string path = dir_ + "/trainer.sh";
    std::ofstream(path) << "#!/bin/sh\n" << body;
    chmod(path.c_str(), 0755);
    return path;
  }

  // `resume_dirs`, `spec_yaml`: those of the assignment (defaults: none, a stub).
  std::vector<gwo::v1::WorkerMessage> Run(const std::string& trainer, bool stop_after_start = false,
                                          const std::vector<std::string>& resume_dirs = {},
                                          const std::string& spec_yaml = "experiment: e\n") {
    gwo::v1::AssignAttempt a;
    a.mutable_attempt()->set_run_id(7);
    a.mutable_attempt()->set_attempt(2);
    a.set_run_spec_yaml(spec_yaml);
    for (const std::string& d : resume_dirs) a.add_resume_dirs(d);
    AttemptRunnerOptions o;
    o.trainer_path = trainer;
    o.attempt_dir = dir_ + "/attempt";
    o.stop_grace = absl::Milliseconds(500);
    o.log_tail_lines = 3;
    std::mutex mu;
    std::vector<gwo::v1::WorkerMessage> sent;
    AttemptRunner runner(a, o, [&](gwo::v1::WorkerMessage m) {
      std::lock_guard<std::mutex> lock(mu);
      sent.push_back(std::move(m));
    });
    runner.Start();
    absl::Time stopped;
    if (stop_after_start) {
      usleep(300 * 1000);
      stopped = absl::Now();
      runner.RequestStop("test");
    }
    while (!runner.done()) usleep(10 * 1000);
    if (stop_after_start) stop_to_done_ = absl::Now() - stopped;
    std::lock_guard<std::mutex> lock(mu);
    return sent;
  }

  std::string dir_;
  absl::Duration stop_to_done_;  // from RequestStop to done, when Run stopped the child
};

TEST_F(AttemptRunnerTest, SuccessfulChildReportsMetricsLogsAndSucceeded) {
  auto sent = Run(Script(
      "printf 'metric\\t1\\ttrain_loss\\t2.5\\n' >&3\n"
      "echo hello\n"
      "printf 'metric\\t2\\tval_ppl\\t9.75\\nnot a metric\\n' >&3\n"
      "test -f \"$2\" || exit 9\n"));  // $2 is the --spec file the runner wrote
  ASSERT_GE(sent.size(), 3u);
  EXPECT_TRUE(sent.front().has_started());
  std::vector<gwo::v1::MetricPoint> points;
  std::vector<std::string> lines;
  for (const auto& m : sent) {
    if (m.has_metrics()) {
      EXPECT_EQ(m.metrics().attempt().run_id(), 7);
      EXPECT_EQ(m.metrics().attempt().attempt(), 2);
      points.insert(points.end(), m.metrics().points().begin(), m.metrics().points().end());
    }
    if (m.has_logs()) lines.insert(lines.end(), m.logs().lines().begin(), m.logs().lines().end());
  }
  ASSERT_EQ(points.size(), 2u);
  EXPECT_EQ(points[0].name(), "train_loss");
  EXPECT_EQ(points[1].step(), 2);
  EXPECT_DOUBLE_EQ(points[1].value(), 9.75);
  EXPECT_EQ(lines, std::vector<std::string>{"hello"});
  std::ifstream log(dir_ + "/attempt/train.log");
  std::string logged;
  std::getline(log, logged);
  EXPECT_EQ(logged, "hello");
  ASSERT_TRUE(sent.back().has_finished());
  EXPECT_EQ(sent.back().finished().state(), gwo::v1::RUN_STATE_SUCCEEDED);
}

// CUDA would otherwise number GPUs fastest first, not as nvidia-smi (and so the
// scheduler) numbers them.
TEST_F(AttemptRunnerTest, TrainerNumbersGpusAsNvidiaSmiDoes) {
  auto sent = Run(Script("test \"$CUDA_DEVICE_ORDER\" = PCI_BUS_ID || exit 9\n"));
  ASSERT_FALSE(sent.empty());
  ASSERT_TRUE(sent.back().has_finished());
  EXPECT_EQ(sent.back().finished().state(), gwo::v1::RUN_STATE_SUCCEEDED) << sent.back().finished().error();
}

TEST_F(AttemptRunnerTest, FailingChildReportsExitCodeAndLogTail) {
  auto sent = Run(Script("for i in 1 2 3 4 5; do echo line$i; done\necho 'boom' >&2\nexit 3\n"));
  ASSERT_TRUE(sent.back().has_finished());
  const auto& f = sent.back().finished();
  EXPECT_EQ(f.state(), gwo::v1::RUN_STATE_FAILED);
  EXPECT_NE(f.error().find("exit code 3"), std::string::npos) << f.error();
  EXPECT_NE(f.error().find("line4\nline5\nboom"), std::string::npos) << f.error();
  EXPECT_EQ(f.error().find("line2"), std::string::npos) << "only the last 3 lines";
}

TEST_F(AttemptRunnerTest, CrashingChildIsFailedWithTheSignal) {
  auto sent = Run(Script("echo about to crash\nkill -SEGV $$\n"));
  const auto& f = sent.back().finished();
  EXPECT_EQ(f.state(), gwo::v1::RUN_STATE_FAILED);
  EXPECT_NE(f.error().find("killed by signal 11"), std::string::npos) << f.error();
}

// What the stand-in wrote to `marker` when it got SIGTERM ("" when it never did).
std::string Marker(const std::string& path) {
  std::ifstream in(path);
  std::string text;
  std::getline(in, text);
  return text;
}

TEST_F(AttemptRunnerTest, StopSendsTermAndEndsCancelled) {
  const std::string marker = dir_ + "/term";
  auto sent = Run(Script("trap 'echo got term > " + marker + "; exit 143' TERM\nwhile true; do sleep 0.05; done\n"),
                  true);
  const auto& f = sent.back().finished();
  EXPECT_EQ(f.state(), gwo::v1::RUN_STATE_CANCELLED);
  // The child ran its TERM handler (a SIGKILL would have left no marker) and ended
  // by itself, well before the grace period ran out.
  EXPECT_EQ(Marker(marker), "got term");
  EXPECT_LT(stop_to_done_, absl::Milliseconds(450));
}

TEST_F(AttemptRunnerTest, StopKillsAChildThatIgnoresTerm) {
  const std::string marker = dir_ + "/term";
  auto sent = Run(Script("trap 'echo ignored term > " + marker + "' TERM\nwhile true; do sleep 0.05; done\n"), true);
  EXPECT_EQ(sent.back().finished().state(), gwo::v1::RUN_STATE_CANCELLED);
  // TERM came first, the child outlived it, and only after the 500 ms grace was it killed.
  EXPECT_EQ(Marker(marker), "ignored term");
  EXPECT_GE(stop_to_done_, absl::Milliseconds(500));
  EXPECT_LT(stop_to_done_, absl::Seconds(3));
}

TEST_F(AttemptRunnerTest, MissingTrainerFails) {
  auto sent = Run(dir_ + "/no-such-trainer");
  const auto& f = sent.back().finished();
  EXPECT_EQ(f.state(), gwo::v1::RUN_STATE_FAILED);
  EXPECT_NE(f.error().find("exit code 127"), std::string::npos) << f.error();
}

TEST_F(AttemptRunnerTest, FailuresSayWhetherAnotherAttemptMayHelp) {
  EXPECT_TRUE(Run(Script("exit 1\n")).back().finished().retryable());
  EXPECT_TRUE(Run(Script("kill -SEGV $$\n")).back().finished().retryable());
  const gwo::v1::AttemptFinished f =
      Run(Script("echo 'gwo-train: error: bad spec' >&2\nexit 2\n")).back().finished();
  EXPECT_EQ(f.state(), gwo::v1::RUN_STATE_FAILED);
  EXPECT_FALSE(f.retryable());
  EXPECT_NE(f.error().find("(not retryable)"), std::string::npos) << f.error();
}

TEST_F(AttemptRunnerTest, LogLinesAreNumberedFromOneAcrossReports) {
  auto sent = Run(Script("for i in $(seq 1 50); do echo line$i; sleep 0.02; done\n"));
  int64_t expected = 1;
  for (const auto& m : sent) {
    if (!m.has_logs()) continue;
    EXPECT_EQ(m.logs().first_line(), expected);
    EXPECT_EQ(m.logs().lines(0), "line" + std::to_string(expected));
    expected += m.logs().lines_size();
  }
  EXPECT_EQ(expected, 51);
}

TEST_F(AttemptRunnerTest, RestartedAttemptResumesFromTheNewestCheckpoint) {
  spec::RunSpec spec;
  spec.experiment = "e";
  spec.data.path = dir_;
  const std::string yaml = spec::RunSpecToYaml(spec);
  const std::string earlier = dir_ + "/attempt-1/out";
  std::filesystem::create_directories(earlier + "/checkpoints");
  std::ofstream(earlier + "/checkpoints/step-10.ckpt", std::ios::binary)
      << trainer::EncodeCheckpoint({yaml, "model", "state"});
  std::ofstream(earlier + "/metrics.jsonl") << "{\"step\":5,\"name\":\"train_loss\",\"value\":2.5}\n"
                                            << "{\"step\":15,\"name\":\"train_loss\",\"value\":2}\n";
  // The stand-in shows its arguments and the metrics.jsonl it starts with.
  auto sent = Run(Script("echo \"args: $*\"\ncat \"$4/metrics.jsonl\"\n"), false, {dir_ + "/missing", earlier}, yaml);
  ASSERT_TRUE(sent.front().has_started());
  EXPECT_EQ(sent.front().started().resumed_from_step(), 10);
  std::vector<gwo::v1::MetricPoint> backfill;
  std::string log;
  for (const auto& m : sent) {
    if (m.has_metrics() && m.metrics().backfill()) backfill.assign(m.metrics().points().begin(), m.metrics().points().end());
    for (const std::string& line : m.logs().lines()) log += line + "\n";
  }
  ASSERT_EQ(backfill.size(), 1u);
  EXPECT_EQ(backfill[0].step(), 5);
  // The chosen checkpoint is pinned under the new attempt's directory (a stale
  // earlier attempt cannot rotate it away) and gwo-train resumes from the pin.
  EXPECT_NE(log.find("/resume/checkpoints/step-10.ckpt"), std::string::npos) << log;
  EXPECT_NE(log.find(earlier + "/checkpoints/step-10.ckpt"), std::string::npos) << log;
  EXPECT_NE(log.find("gwo-worker: resuming from"), std::string::npos) << log;
  EXPECT_NE(log.find("{\"step\":5,"), std::string::npos) << "history carried into the new metrics.jsonl\n" << log;
  EXPECT_EQ(log.find("{\"step\":15,"), std::string::npos) << log;
  EXPECT_EQ(sent.back().finished().state(), gwo::v1::RUN_STATE_SUCCEEDED);
}

TEST(ParseMetricEvent, AcceptsOnlyWellFormedLines) {
  gwo::v1::MetricPoint p;
  EXPECT_TRUE(ParseMetricEvent("metric\t10\tval_loss\t1.25", &p));
  EXPECT_EQ(p.step(), 10);
  EXPECT_EQ(p.name(), "val_loss");
  EXPECT_DOUBLE_EQ(p.value(), 1.25);
  EXPECT_TRUE(ParseMetricEvent("metric\t3\tloss\tnan", &p));
  EXPECT_FALSE(ParseMetricEvent("metric\t-1\tloss\t1", &p));
  EXPECT_FALSE(ParseMetricEvent("metric\t1\tloss\t1x", &p));
  EXPECT_FALSE(ParseMetricEvent("metric\t1\t\t1", &p));
  EXPECT_FALSE(ParseMetricEvent("log\t1\tloss\t1", &p));
  EXPECT_FALSE(ParseMetricEvent("metric\t1\tloss", &p));
}

}  // namespace
}  // namespace gwo::worker
