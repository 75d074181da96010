#include "worker/trainer/metrics_sink.h"

#include <unistd.h>

#include <cmath>
#include <csignal>
#include <string>

#include "common/metric_line.h"
#include "gtest/gtest.h"
#include "tests/worker/test_dir.h"
#include "worker/trainer/file_io.h"

namespace gwo::trainer {
namespace {

TEST(MetricFormat, EventLineIsTabSeparatedWithNineDigits) {
  EXPECT_EQ(FormatMetricEvent(50, "val_loss", 2.0 / 3.0), "metric\t50\tval_loss\t0.666666667\n");
  EXPECT_EQ(FormatMetricEvent(0, "params_total", 123456789.0),
            "metric\t0\tparams_total\t123456789\n");
}

TEST(MetricSink, RecordsToJsonlAndEventsPipe) {
  const gwo::testing::TestDir dir;
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  {
    absl::StatusOr<std::unique_ptr<MetricSink>> sink =
        MetricSink::Open(dir / "metrics.jsonl", fds[1]);
    ASSERT_TRUE(sink.ok()) << sink.status();
    ASSERT_TRUE((*sink)->Record(1, "train_loss", 5.5).ok());
    ASSERT_TRUE((*sink)->Record(1, "lr", 0.001).ok());
  }
  close(fds[1]);
  std::string events;
  char buffer[256];
  for (ssize_t n; (n = read(fds[0], buffer, sizeof(buffer))) > 0;) events.append(buffer, n);
  close(fds[0]);
  EXPECT_EQ(events, "metric\t1\ttrain_loss\t5.5\nmetric\t1\tlr\t0.001\n");
  EXPECT_EQ(*ReadFileToString(dir / "metrics.jsonl"),
            "{\"step\":1,\"name\":\"train_loss\",\"value\":5.5}\n"
            "{\"step\":1,\"name\":\"lr\",\"value\":0.001}\n");
}

TEST(MetricSink, ClosedEventsPipeIsAnError) {
  const gwo::testing::TestDir dir;
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  close(fds[0]);
  signal(SIGPIPE, SIG_IGN);
  absl::StatusOr<std::unique_ptr<MetricSink>> sink = MetricSink::Open(dir / "m.jsonl", fds[1]);
  ASSERT_TRUE(sink.ok());
  EXPECT_FALSE((*sink)->Record(1, "lr", 1.0).ok());
  close(fds[1]);
}

TEST(TruncateMetricsAfter, KeepsPointsUpToTheStepAndDropsTornLines) {
  const gwo::testing::TestDir dir;
  const std::string path = dir / "metrics.jsonl";
  const std::string kept = FormatMetricJsonLine(0, "params_total", 10) + FormatMetricJsonLine(12, "lr", 1) +
                           FormatMetricJsonLine(12, "train_loss", 2);
  ASSERT_TRUE(WriteFileAtomically(path, kept + FormatMetricJsonLine(13, "train_loss", 3) + "garbage\n" +
                                            "{\"step\":14,\"na")
                  .ok());
  ASSERT_TRUE(TruncateMetricsAfter(path, 12).ok());
  EXPECT_EQ(*ReadFileToString(path), kept);
  ASSERT_TRUE(TruncateMetricsAfter(path, -1).ok());
  EXPECT_EQ(*ReadFileToString(path), "");
  EXPECT_TRUE(TruncateMetricsAfter(dir / "absent.jsonl", 3).ok());
}

TEST(WriteFileAtomically, ReplacesContentAndLeavesNoTemporaryFile) {
  const gwo::testing::TestDir dir;
  ASSERT_TRUE(WriteFileAtomically(dir / "f", "one").ok());
  ASSERT_TRUE(WriteFileAtomically(dir / "f", "two").ok());
  EXPECT_EQ(*ReadFileToString(dir / "f"), "two");
  int entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++entries;
  EXPECT_EQ(entries, 1);
  EXPECT_EQ(ReadFileToString(dir / "missing").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace gwo::trainer
