#include <thread>
#include <vector>

#include "common/metrics/exposition.h"
#include "common/metrics/registry.h"
#include "gtest/gtest.h"

namespace gwo::metrics {
namespace {

TEST(Exposition, EscapesLabelValues) {
  EXPECT_EQ(EscapeLabelValue(R"(a\b"c)" "\n" "d"), R"(a\\b\"c\nd)");
  EXPECT_EQ(EscapeLabelValue("plain"), "plain");
}

TEST(Exposition, EscapesHelpButKeepsQuotes) {
  EXPECT_EQ(EscapeHelp("say \"hi\"\\\nnext"), "say \"hi\"\\\\\\nnext");
}

TEST(Exposition, FormatsValuesShortestAndSpecials) {
  EXPECT_EQ(FormatValue(1), "1");
  EXPECT_EQ(FormatValue(0.25), "0.25");
  EXPECT_EQ(FormatValue(0.1), "0.1");
  EXPECT_EQ(FormatValue(-3.5), "-3.5");
  EXPECT_EQ(FormatValue(1e6), "1e+06");
  EXPECT_EQ(FormatValue(1.0 / 0.0), "+Inf");
  EXPECT_EQ(FormatValue(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(FormatValue(std::nan("")), "NaN");
}

TEST(Exposition, ValidatesNames) {
  EXPECT_TRUE(IsValidMetricName("gwo_queue_wait_seconds"));
  EXPECT_TRUE(IsValidMetricName("a:b_c"));
  EXPECT_FALSE(IsValidMetricName("1abc"));
  EXPECT_FALSE(IsValidMetricName("gwo-runs"));
  EXPECT_FALSE(IsValidMetricName(""));
  EXPECT_TRUE(IsValidLabelName("state"));
  EXPECT_FALSE(IsValidLabelName("__name"));
  EXPECT_FALSE(IsValidLabelName("a:b"));
}

TEST(Registry, WritesCounterWithLabelsInDeclaredOrderAndChildrenSorted) {
  Registry r;
  auto* runs = r.AddCounter("gwo_things_total", "Things done.", {"zeta", "alpha"});
  runs->With({"z2", "a1"}).Inc(2);
  runs->With({"z1", "a\"q"}).Inc();
  runs->With({"z1", "a\"q"}).Inc(0.5);
  runs->With({"z1", "a\"q"}).Inc(-7);  // ignored
  EXPECT_EQ(r.Expose(),
            "# HELP gwo_things_total Things done.\n"
            "# TYPE gwo_things_total counter\n"
            "gwo_things_total{zeta=\"z1\",alpha=\"a\\\"q\"} 1.5\n"
            "gwo_things_total{zeta=\"z2\",alpha=\"a1\"} 2\n");
  EXPECT_TRUE(r.status().ok());
}

TEST(Registry, WritesUnlabelledFamiliesAtZeroBeforeUse) {
  Registry r;
  r.AddGauge("gwo_up_ratio", "Help with\nnewline.");
  EXPECT_EQ(r.Expose(),
            "# HELP gwo_up_ratio Help with\\nnewline.\n"
            "# TYPE gwo_up_ratio gauge\n"
            "gwo_up_ratio 0\n");
}

TEST(Registry, WritesHistogramCumulativeBucketsSumAndCount) {
  Registry r;
  auto* h = r.AddHistogram("gwo_wait_seconds", "Wait.", {"queue"}, {0.5, 1, 2.5});
  Histogram& q = h->With({"main"});
  q.Observe(0.5);  // bounds are inclusive: the 0.5 bucket
  q.Observe(0.7);
  q.Observe(3);
  q.Observe(std::nan(""));  // ignored
  EXPECT_EQ(r.Expose(),
            "# HELP gwo_wait_seconds Wait.\n"
            "# TYPE gwo_wait_seconds histogram\n"
            "gwo_wait_seconds_bucket{queue=\"main\",le=\"0.5\"} 1\n"
            "gwo_wait_seconds_bucket{queue=\"main\",le=\"1\"} 2\n"
            "gwo_wait_seconds_bucket{queue=\"main\",le=\"2.5\"} 2\n"
            "gwo_wait_seconds_bucket{queue=\"main\",le=\"+Inf\"} 3\n"
            "gwo_wait_seconds_sum{queue=\"main\"} 4.2\n"
            "gwo_wait_seconds_count{queue=\"main\"} 3\n");
}

TEST(Registry, UnlabelledHistogramHasOnlyTheLeLabel) {
  Registry r;
  r.AddHistogram("gwo_x_seconds", "X.", {}, {1})->With({}).Observe(2);
  EXPECT_EQ(r.Expose(),
            "# HELP gwo_x_seconds X.\n"
            "# TYPE gwo_x_seconds histogram\n"
            "gwo_x_seconds_bucket{le=\"1\"} 0\n"
            "gwo_x_seconds_bucket{le=\"+Inf\"} 1\n"
            "gwo_x_seconds_sum 2\n"
            "gwo_x_seconds_count 1\n");
}

TEST(Registry, WritesFamiliesInDeclarationOrder) {
  Registry r;
  r.AddGauge("gwo_b_bytes", "B.");
  r.AddCounter("gwo_a_total", "A.");
  std::string out = r.Expose();
  EXPECT_LT(out.find("gwo_b_bytes"), out.find("gwo_a_total"));
}

TEST(Registry, RecordsBadDeclarationsAndLeavesThemOut) {
  Registry r;
  r.AddCounter("gwo_requests", "no _total");
  EXPECT_EQ(std::string(r.status().message()), "metric gwo_requests is a counter and must end in _total");
  r.AddGauge("gwo-bad", "bad name")->With({}).Set(1);
  r.AddHistogram("gwo_h_seconds", "le label", {"le"}, {1});
  r.AddHistogram("gwo_g_seconds", "unsorted", {}, {2, 1});
  r.AddGauge("gwo_ok_bytes", "ok", {"a", "a"});
  EXPECT_EQ(r.Expose(), "");
  // The first problem is kept.
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(r.status().message()), "metric gwo_requests is a counter and must end in _total");
}

TEST(Registry, RejectsDuplicateNames) {
  Registry r;
  r.AddGauge("gwo_x_bytes", "X.");
  r.AddGauge("gwo_x_bytes", "X again.");
  EXPECT_EQ(std::string(r.status().message()), "metric gwo_x_bytes is declared twice");
  std::string out = r.Expose();
  EXPECT_EQ(out.find("X again"), std::string::npos);
}

TEST(Registry, RunsCollectorsBeforeWriting) {
  Registry r;
  Gauge& g = r.AddGauge("gwo_depth_runs", "Depth.")->With({});
  int calls = 0;
  r.AddCollector([&] { g.Set(++calls * 10); });
  EXPECT_NE(r.Expose().find("gwo_depth_runs 10\n"), std::string::npos);
  EXPECT_NE(r.Expose().find("gwo_depth_runs 20\n"), std::string::npos);
}

TEST(Registry, MissingLabelValuesAreEmpty) {
  Registry r;
  r.AddGauge("gwo_g_bytes", "G.", {"a", "b"})->With({"x"}).Set(3);
  EXPECT_NE(r.Expose().find("gwo_g_bytes{a=\"x\",b=\"\"} 3\n"), std::string::npos);
}

TEST(Registry, ConcurrentUpdatesAreAllCounted) {
  Registry r;
  auto* c = r.AddCounter("gwo_n_total", "N.", {"k"});
  auto* h = r.AddHistogram("gwo_h_seconds", "H.", {}, {0.5});
  auto* g = r.AddGauge("gwo_g_bytes", "G.");
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10000; ++i) {
        c->With({t % 2 ? "odd" : "even"}).Inc();
        h->With({}).Observe(1);
        g->With({}).Add(1);
        if (i % 1000 == 0) r.Expose();
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(c->With({"odd"}).value() + c->With({"even"}).value(), 80000);
  EXPECT_EQ(h->With({}).snapshot().count, 80000u);
  EXPECT_EQ(h->With({}).snapshot().cumulative.back(), 80000u);
  EXPECT_EQ(g->With({}).value(), 80000);
}

}  // namespace
}  // namespace gwo::metrics
