#include "worker/agent/worker_metrics.h"

#include "gtest/gtest.h"
#include "worker/agent/gpu_stats.h"

namespace gwo::worker {
namespace {

// What nvidia-smi printed on an H100 host (idle), plus the forms it uses for
// values it cannot read.
TEST(ParseGpuStats, ReadsNvidiaSmiCsv) {
  std::vector<GpuStats> g = ParseGpuStats("0, 0, 0, 81559\n1, 87, 40960, 81559\n2, [N/A], [N/A], 16384\n");
  ASSERT_EQ(g.size(), 3u);
  EXPECT_EQ(g[0].index, 0);
  EXPECT_EQ(*g[0].utilization, 0.0);
  EXPECT_EQ(*g[0].memory_total_bytes, 81559LL * 1024 * 1024);
  EXPECT_DOUBLE_EQ(*g[1].utilization, 0.87);
  EXPECT_EQ(*g[1].memory_used_bytes, 40960LL * 1024 * 1024);
  EXPECT_FALSE(g[2].utilization.has_value());
  EXPECT_FALSE(g[2].memory_used_bytes.has_value());
  EXPECT_EQ(*g[2].memory_total_bytes, 16384LL * 1024 * 1024);
}

TEST(ParseGpuStats, SkipsLinesItCannotRead) {
  EXPECT_TRUE(ParseGpuStats("").empty());
  EXPECT_TRUE(ParseGpuStats("NVIDIA-SMI has failed because it couldn't communicate with the driver.\n").empty());
  EXPECT_TRUE(ParseGpuStats("x, 1, 2, 3\n0, 1, 2\n").empty());
}

gwo::v1::WorkerMessage Started(int64_t run, int attempt) {
  gwo::v1::WorkerMessage m;
  m.mutable_started()->mutable_attempt()->set_run_id(run);
  m.mutable_started()->mutable_attempt()->set_attempt(attempt);
  return m;
}

gwo::v1::WorkerMessage Points(int64_t run, int attempt, std::vector<std::pair<int64_t, double>> tokens_per_s) {
  gwo::v1::WorkerMessage m;
  m.mutable_metrics()->mutable_attempt()->set_run_id(run);
  m.mutable_metrics()->mutable_attempt()->set_attempt(attempt);
  for (auto [step, v] : tokens_per_s) {
    auto* p = m.mutable_metrics()->add_points();
    p->set_step(step);
    p->set_name("tokens_per_s");
    p->set_value(v);
    auto* loss = m.mutable_metrics()->add_points();
    loss->set_step(step);
    loss->set_name("train_loss");
    loss->set_value(3.0);
  }
  return m;
}

gwo::v1::WorkerMessage Finished(int64_t run, int attempt, gwo::v1::RunState state) {
  gwo::v1::WorkerMessage m;
  m.mutable_finished()->mutable_attempt()->set_run_id(run);
  m.mutable_finished()->mutable_attempt()->set_attempt(attempt);
  m.mutable_finished()->set_state(state);
  return m;
}

bool Has(const std::string& exposition, const std::string& line) {
  return exposition.find("\n" + line + "\n") != std::string::npos;
}

TEST(WorkerMetrics, SumsLatestTokensPerSecondOfRunningAttemptsWithoutRunLabels) {
  metrics::Registry r;
  WorkerMetrics m(&r, 2, nullptr);
  ASSERT_TRUE(r.status().ok()) << r.status();
  m.OnConnectionChanged(true);
  m.OnReport(Started(7, 1));
  m.OnReport(Started(9, 2));
  m.OnReport(Points(7, 1, {{10, 1000}, {20, 1500}}));
  m.OnReport(Points(9, 2, {{10, 250}}));
  std::string out = r.Expose();
  EXPECT_TRUE(Has(out, "gwo_worker_tokens_per_second 1750")) << out;
  EXPECT_TRUE(Has(out, "gwo_worker_attempts_running 2")) << out;
  EXPECT_TRUE(Has(out, "gwo_worker_metric_points_total 6")) << out;
  EXPECT_TRUE(Has(out, "gwo_worker_connected 1")) << out;
  EXPECT_TRUE(Has(out, "gwo_worker_slots 2")) << out;
  // No run id in any label: neither as a name nor as a value.
  EXPECT_EQ(out.find("run_id"), std::string::npos);
  EXPECT_EQ(out.find("=\"7\""), std::string::npos);
  EXPECT_EQ(out.find("=\"9\""), std::string::npos);
  EXPECT_TRUE(m.connected());

  m.OnReport(Finished(7, 1, gwo::v1::RUN_STATE_SUCCEEDED));
  out = r.Expose();
  EXPECT_TRUE(Has(out, "gwo_worker_tokens_per_second 250")) << out;
  EXPECT_TRUE(Has(out, "gwo_worker_attempts_running 1")) << out;
  EXPECT_TRUE(Has(out, "gwo_worker_attempts_finished_total{state=\"succeeded\"} 1")) << out;
  EXPECT_TRUE(Has(out, "gwo_worker_attempts_finished_total{state=\"failed\"} 0")) << out;

  m.OnConnectionChanged(false);
  EXPECT_FALSE(m.connected());
  EXPECT_TRUE(Has(r.Expose(), "gwo_worker_connected 0"));
}

TEST(WorkerMetrics, ReadsGpusAtScrapeTime) {
  metrics::Registry r;
  int calls = 0;
  WorkerMetrics m(&r, 1, [&]() -> absl::StatusOr<std::vector<GpuStats>> {
    ++calls;
    return ParseGpuStats("0, 50, 1024, 81559\n");
  });
  std::string out = r.Expose();
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(Has(out, "gwo_gpu_utilization_ratio{gpu=\"0\"} 0.5")) << out;
  EXPECT_TRUE(Has(out, "gwo_gpu_memory_used_bytes{gpu=\"0\"} 1073741824")) << out;
  EXPECT_TRUE(Has(out, "gwo_gpu_memory_total_bytes{gpu=\"0\"} 85520809984")) << out;
}

}  // namespace
}  // namespace gwo::worker
