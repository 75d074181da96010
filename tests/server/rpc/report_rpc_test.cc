// ReportService and MetricService over real gRPC on loopback, on a real
// PostgreSQL, with the real Coordinator: reports, downsampled series, and live
// metric/log streams fed by the coordinator's report path (OnMetrics, OnLogs).
#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "gwo/v1/metrics.grpc.pb.h"
#include "gwo/v1/reports.grpc.pb.h"
#include "server/access/access_control.h"
#include "server/coordinator.h"
#include "server/rpc/access_gate.h"
#include "server/rpc/metric_service.h"
#include "server/rpc/report_service.h"
#include "tests/server/store/postgres_fixture.h"

namespace gwo::server::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class ReportRpcTest : public PostgresTest {
 protected:
  void SetUp() override {
    PostgresTest::SetUp();
    core_ = std::make_unique<Coordinator>(store_.get(), CoordinatorOptions{});
    access_ = std::make_unique<AccessControl>(store_.get());
    gate_ = std::make_unique<AccessGate>(access_.get());
    metrics_ = std::make_unique<MetricServiceImpl>(core_.get(), gate_.get());
    reports_ = std::make_unique<ReportServiceImpl>(core_.get(), gate_.get());
    ASSERT_TRUE(access_->BootstrapIfEmpty([&](const BootstrapTokens& t) {
                  token_ = t.admin_token;
                  return absl::OkStatus();
                }).value());
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(metrics_.get());
    builder.RegisterService(reports_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(port, 0);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
    worker_ = Worker("w");
  }
  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
    server_.reset();
  }

  std::unique_ptr<grpc::ClientContext> Ctx(int seconds = 20) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->AddMetadata("authorization", "Bearer " + token_);
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
    return ctx;
  }

  // Creates an experiment of `runs` and claims every run on worker_, in id order.
  std::pair<int64_t, std::vector<Assignment>> Start(const std::vector<NewRun>& runs) {
    ExperimentRecord e = store_->CreateExperiment("exp", "", "", runs, nullptr).value();
    std::vector<Assignment> claimed;
    for (size_t i = 0; i < runs.size(); ++i) claimed.push_back(store_->ClaimNextRun(worker_).value().value());
    return {e.id, claimed};
  }

  std::unique_ptr<Coordinator> core_;
  std::unique_ptr<AccessControl> access_;
  std::unique_ptr<AccessGate> gate_;
  std::string token_;  // the admin's
  std::unique_ptr<MetricServiceImpl> metrics_;
  std::unique_ptr<ReportServiceImpl> reports_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  int64_t worker_ = 0;
};

NewRun SpecRun(const std::string& variant, int64_t seed, const std::string& kind) {
  NewRun r = MakeRun(absl::StrCat(variant, "/d/seed", seed));
  r.variant = variant;
  r.dataset = "d";
  r.seed = seed;
  r.spec_yaml = absl::StrCat("variant: ", variant, "\nseed: ", seed, "\nattention:\n  kind: ", kind, "\n");
  return r;
}

TEST_F(ReportRpcTest, GetReportComputesSeedPairedImprovementOfSucceededRuns) {
  auto [exp, runs] = Start({SpecRun("base", 1, "standard"), SpecRun("base", 2, "standard"), SpecRun("gwo", 1, "factorized"),
                            SpecRun("gwo", 2, "factorized"), SpecRun("gwo", 3, "factorized")});
  const double ppl[] = {20, 22, 18, 19.8, 1};  // gwo seed 3 fails: not counted
  for (size_t i = 0; i < runs.size(); ++i) {
    core_->OnMetrics(worker_, runs[i].run_id, runs[i].attempt,
                     {{10, "val_ppl", ppl[i] * 2}, {20, "val_ppl", ppl[i]}, {20, "trainable_params", 1000.0 + i / 2}});
    core_->OnAttemptFinished(worker_, runs[i].run_id, runs[i].attempt,
                             i == 4 ? RunState::kFailed : RunState::kSucceeded, "");
  }
  gwo::v1::GetReportRequest req;
  req.set_experiment_id(exp);
  gwo::v1::GetReportResponse resp;
  auto stub = gwo::v1::ReportService::NewStub(channel_);
  ASSERT_TRUE(stub->GetReport(Ctx().get(), req, &resp).ok());
  EXPECT_EQ(resp.baseline_variant(), "base");
  EXPECT_EQ(resp.total_runs(), 5);
  EXPECT_EQ(resp.counted_runs(), 4);
  EXPECT_THAT(resp.metrics(), ElementsAre("trainable_params", "val_ppl"));
  EXPECT_THAT(resp.sign_convention(), HasSubstr("positive is better"));
  ASSERT_EQ(resp.rows_size(), 2);
  const gwo::v1::ReportRow& gwo = resp.rows(1);
  EXPECT_EQ(gwo.variant(), "gwo");
  EXPECT_THAT(gwo.seeds(), ElementsAre(1, 2));
  const gwo::v1::ReportCell& cell = gwo.cells(1);
  EXPECT_EQ(cell.metric(), "val_ppl");
  EXPECT_EQ(cell.direction(), gwo::v1::METRIC_DIRECTION_LOWER_IS_BETTER);
  EXPECT_DOUBLE_EQ(cell.value().mean(), 18.9);  // final values (step 20), not step 10's
  ASSERT_TRUE(cell.has_improvement());
  EXPECT_NEAR(cell.improvement_pct().mean(), 10.0, 1e-9);
  EXPECT_EQ(cell.improvement_pct().n(), 2);

  req.set_include_unfinished(true);
  resp.Clear();
  ASSERT_TRUE(stub->GetReport(Ctx().get(), req, &resp).ok());
  EXPECT_EQ(resp.counted_runs(), 5);
  EXPECT_THAT(resp.rows(1).seeds(), ElementsAre(1, 2, 3));

  req.set_baseline_variant("nope");
  grpc::Status bad = stub->GetReport(Ctx().get(), req, &resp);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(), HasSubstr("expected one of: base, gwo"));
  // An explicit baseline comes first and the others are measured against it.
  req.set_baseline_variant("gwo");
  req.set_include_unfinished(false);
  resp.Clear();
  ASSERT_TRUE(stub->GetReport(Ctx().get(), req, &resp).ok());
  EXPECT_EQ(resp.baseline_variant(), "gwo");
  EXPECT_TRUE(resp.rows(0).baseline());
  EXPECT_EQ(resp.rows(1).variant(), "base");
  EXPECT_TRUE(resp.rows(1).cells(1).has_improvement());
  req.set_experiment_id(exp + 50);
  req.clear_baseline_variant();
  EXPECT_EQ(stub->GetReport(Ctx().get(), req, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(ReportRpcTest, CompareRunsShowsSpecDifferencesAndLatestMetrics) {
  auto [exp, runs] = Start({SpecRun("base", 1, "standard"), SpecRun("gwo", 1, "factorized")});
  core_->OnMetrics(worker_, runs[0].run_id, 1, {{5, "val_loss", 3.0}});
  core_->OnMetrics(worker_, runs[1].run_id, 1, {{5, "val_loss", 2.5}, {5, "acc", 0.9}});
  gwo::v1::CompareRunsRequest req;
  req.add_run_ids(runs[0].run_id);
  req.add_run_ids(runs[1].run_id);
  gwo::v1::CompareRunsResponse resp;
  ASSERT_TRUE(gwo::v1::ReportService::NewStub(channel_)->CompareRuns(Ctx().get(), req, &resp).ok());
  ASSERT_EQ(resp.spec_differences_size(), 2);
  EXPECT_EQ(resp.spec_differences(0).key(), "attention.kind");
  EXPECT_THAT(resp.spec_differences(0).values(), ElementsAre("standard", "factorized"));
  EXPECT_EQ(resp.spec_differences(1).key(), "variant");
  ASSERT_EQ(resp.metrics_size(), 2);
  EXPECT_EQ(resp.metrics(0).metric(), "acc");
  EXPECT_THAT(resp.metrics(0).has_value(), ElementsAre(false, true));
  EXPECT_THAT(resp.metrics(1).values(), ElementsAre(3.0, 2.5));
  req.clear_run_ids();
  req.add_run_ids(runs[0].run_id);
  EXPECT_EQ(gwo::v1::ReportService::NewStub(channel_)->CompareRuns(Ctx().get(), req, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ReportRpcTest, QueryMetricSeriesDownsamplesAndValidates) {
  auto [exp, runs] = Start({SpecRun("base", 1, "standard")});
  std::vector<MetricPointRecord> pts;
  for (int s = 1; s <= 5000; ++s) pts.push_back({s, "loss", s == 4321 ? 99.0 : 1.0});
  core_->OnMetrics(worker_, runs[0].run_id, 1, pts);
  auto stub = gwo::v1::MetricService::NewStub(channel_);
  gwo::v1::QueryMetricSeriesRequest req;
  req.set_run_id(runs[0].run_id);
  req.set_max_points(50);
  gwo::v1::QueryMetricSeriesResponse resp;
  ASSERT_TRUE(stub->QueryMetricSeries(Ctx().get(), req, &resp).ok());
  ASSERT_EQ(resp.series_size(), 1);
  EXPECT_EQ(resp.series(0).total_points(), 5000);
  EXPECT_LE(resp.series(0).buckets_size(), 50);
  double hi = 0;
  for (const auto& b : resp.series(0).buckets()) hi = std::max(hi, b.max());
  EXPECT_EQ(hi, 99.0);
  req.set_max_points(-1);
  EXPECT_EQ(stub->QueryMetricSeries(Ctx().get(), req, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  req.set_max_points(10);
  req.set_step_min(10);
  req.set_step_max(5);
  EXPECT_EQ(stub->QueryMetricSeries(Ctx().get(), req, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ReportRpcTest, StreamMetricsSendsHistoryThenLivePointsThenEndsWhenTheRunEnds) {
  auto [exp, runs] = Start({SpecRun("base", 1, "standard")});
  const Assignment a = runs[0];
  core_->OnMetrics(worker_, a.run_id, a.attempt, {{1, "loss", 3.0}, {2, "loss", 2.5}});
  gwo::v1::StreamMetricsRequest req;
  req.set_run_id(a.run_id);
  auto ctx = Ctx();
  auto reader = gwo::v1::MetricService::NewStub(channel_)->StreamMetrics(ctx.get(), req);
  gwo::v1::StreamMetricsResponse msg;
  ASSERT_TRUE(reader->Read(&msg));
  EXPECT_TRUE(msg.history());
  EXPECT_EQ(msg.run_state(), gwo::v1::RUN_STATE_RUNNING);
  ASSERT_EQ(msg.points_size(), 2);
  EXPECT_EQ(msg.points(1).step(), 2);

  const auto sent = std::chrono::steady_clock::now();
  core_->OnMetrics(worker_, a.run_id, a.attempt, {{3, "loss", 2.0}});
  ASSERT_TRUE(reader->Read(&msg));
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - sent).count();
  std::printf("[ measurement ] live point delivered %.1f ms after OnMetrics returned\n", ms);
  EXPECT_FALSE(msg.history());
  ASSERT_EQ(msg.points_size(), 1);
  EXPECT_EQ(msg.points(0).step(), 3);
  EXPECT_EQ(msg.points(0).attempt(), 1);
  EXPECT_LT(ms, 900);  // woken by the coordinator, not by the 1 s poll

  core_->OnAttemptFinished(worker_, a.run_id, a.attempt, RunState::kSucceeded, "");
  while (reader->Read(&msg)) EXPECT_EQ(msg.points_size(), 0);
  EXPECT_EQ(msg.run_state(), gwo::v1::RUN_STATE_SUCCEEDED);  // the last message says how it ended
  EXPECT_TRUE(reader->Finish().ok());
}

TEST_F(ReportRpcTest, SlowReaderGetsEveryPointInOrderWithoutHoldingTheCoordinator) {
  auto [exp, runs] = Start({SpecRun("base", 1, "standard")});
  const Assignment a = runs[0];
  gwo::v1::StreamMetricsRequest req;
  req.set_run_id(a.run_id);
  auto ctx = Ctx(60);
  auto reader = gwo::v1::MetricService::NewStub(channel_)->StreamMetrics(ctx.get(), req);
  // Ingest 40 batches while nobody reads the stream.
  const int kBatches = 40, kPerBatch = 1000;
  const auto start = std::chrono::steady_clock::now();
  for (int b = 0; b < kBatches; ++b) {
    std::vector<MetricPointRecord> pts;
    for (int i = 0; i < kPerBatch; ++i) pts.push_back({b * kPerBatch + i + 1, "loss", 1.0 / (b + 1)});
    core_->OnMetrics(worker_, a.run_id, a.attempt, pts);
  }
  const double ingest_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::printf("[ measurement ] %d points ingested in %.0f ms with an unread stream open\n", kBatches * kPerBatch,
              ingest_ms);
  core_->OnAttemptFinished(worker_, a.run_id, a.attempt, RunState::kSucceeded, "");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // then read slowly
  gwo::v1::StreamMetricsResponse msg;
  int64_t expected = 1;
  while (reader->Read(&msg)) {
    for (const auto& p : msg.points()) ASSERT_EQ(p.step(), expected++);
  }
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_EQ(expected - 1, kBatches * kPerBatch);
}

TEST_F(ReportRpcTest, StreamLogsTailsThenFollowsUntilTheRunEnds) {
  auto [exp, runs] = Start({SpecRun("base", 1, "standard")});
  const Assignment a = runs[0];
  core_->OnLogs(worker_, a.run_id, a.attempt, {"one", "two", "three"});
  auto stub = gwo::v1::MetricService::NewStub(channel_);

  gwo::v1::StreamLogsRequest req;
  req.set_run_id(a.run_id);
  req.set_tail(2);
  {  // no follow: just the tail
    auto ctx = Ctx();
    auto reader = stub->StreamLogs(ctx.get(), req);
    gwo::v1::StreamLogsResponse msg;
    std::vector<std::string> got;
    while (reader->Read(&msg)) {
      for (const auto& l : msg.lines()) got.push_back(l.text());
    }
    EXPECT_TRUE(reader->Finish().ok());
    EXPECT_THAT(got, ElementsAre("two", "three"));
  }
  req.set_follow(true);
  auto ctx = Ctx();
  auto reader = stub->StreamLogs(ctx.get(), req);
  gwo::v1::StreamLogsResponse msg;
  ASSERT_TRUE(reader->Read(&msg));
  ASSERT_EQ(msg.lines_size(), 2);
  core_->OnLogs(worker_, a.run_id, a.attempt, {"four"});
  ASSERT_TRUE(reader->Read(&msg));
  ASSERT_EQ(msg.lines_size(), 1);
  EXPECT_EQ(msg.lines(0).text(), "four");
  EXPECT_EQ(msg.lines(0).attempt(), 1);
  core_->OnAttemptFinished(worker_, a.run_id, a.attempt, RunState::kFailed, "boom");
  while (reader->Read(&msg)) EXPECT_EQ(msg.lines_size(), 0);
  EXPECT_EQ(msg.run_state(), gwo::v1::RUN_STATE_FAILED);
  EXPECT_TRUE(reader->Finish().ok());

  req.set_run_id(a.run_id + 99);
  auto ctx2 = Ctx();
  auto missing = stub->StreamLogs(ctx2.get(), req);
  while (missing->Read(&msg)) {
  }
  EXPECT_EQ(missing->Finish().error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(ReportRpcTest, CancelledStreamUnregistersFromTheFeed) {
  auto [exp, runs] = Start({SpecRun("base", 1, "standard")});
  gwo::v1::StreamMetricsRequest req;
  req.set_run_id(runs[0].run_id);
  auto ctx = Ctx();
  auto reader = gwo::v1::MetricService::NewStub(channel_)->StreamMetrics(ctx.get(), req);
  for (int i = 0; i < 100 && core_->live_feed().watchers() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(core_->live_feed().watchers(), 1);
  ctx->TryCancel();
  gwo::v1::StreamMetricsResponse msg;
  while (reader->Read(&msg)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  for (int i = 0; i < 100 && core_->live_feed().watchers() != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(core_->live_feed().watchers(), 0);
}

}  // namespace
}  // namespace gwo::server::testing
