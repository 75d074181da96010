// The worker's report spool on a real directory: acknowledgement, reopening,
// a torn last record, sequence numbers across restarts.
#include "worker/agent/spool.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"

namespace gwo::worker {
namespace {

class SpoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/gwo-spool-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static gwo::v1::WorkerMessage Logs(const std::string& line) {
    gwo::v1::WorkerMessage m;
    m.mutable_logs()->mutable_attempt()->set_run_id(7);
    m.mutable_logs()->add_lines(line);
    return m;
  }
  std::unique_ptr<Spool> Open() {
    absl::StatusOr<std::unique_ptr<Spool>> s = Spool::Open(dir_);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *std::move(s) : nullptr;
  }

  std::string dir_;
};

TEST_F(SpoolTest, UnacknowledgedReportsSurviveAReopen) {
  {
    std::unique_ptr<Spool> spool = Open();
    for (const char* line : {"a", "b", "c"}) {
      gwo::v1::WorkerMessage m = Logs(line);
      ASSERT_TRUE(spool->Append(&m).ok());
    }
    EXPECT_EQ(spool->pending().back().seq(), 3);
    ASSERT_TRUE(spool->Ack(1).ok());
    EXPECT_EQ(spool->pending().size(), 2u);
  }
  std::unique_ptr<Spool> spool = Open();
  ASSERT_EQ(spool->pending().size(), 2u);
  EXPECT_EQ(spool->pending()[0].seq(), 2);
  EXPECT_EQ(spool->pending()[0].logs().lines(0), "b");
  EXPECT_EQ(spool->pending()[1].seq(), 3);
  gwo::v1::WorkerMessage m = Logs("d");
  ASSERT_TRUE(spool->Append(&m).ok());
  EXPECT_EQ(m.seq(), 4);
}

TEST_F(SpoolTest, FullAcknowledgementEmptiesTheLogAndKeepsNumbering) {
  {
    std::unique_ptr<Spool> spool = Open();
    for (int i = 0; i < 3; ++i) {
      gwo::v1::WorkerMessage m = Logs("x");
      ASSERT_TRUE(spool->Append(&m).ok());
    }
    ASSERT_TRUE(spool->Ack(3).ok());
    EXPECT_TRUE(spool->pending().empty());
    EXPECT_EQ(std::filesystem::file_size(dir_ + "/reports.log"), 0u);
    ASSERT_TRUE(spool->Ack(2).ok());  // a late, older acknowledgement changes nothing
  }
  std::unique_ptr<Spool> spool = Open();
  EXPECT_TRUE(spool->pending().empty());
  EXPECT_EQ(spool->acked(), 3);
  gwo::v1::WorkerMessage m = Logs("y");
  ASSERT_TRUE(spool->Append(&m).ok());
  EXPECT_EQ(m.seq(), 4);  // numbers are never reused
}

TEST_F(SpoolTest, TornLastRecordIsDropped) {
  {
    std::unique_ptr<Spool> spool = Open();
    gwo::v1::WorkerMessage m = Logs("whole");
    ASSERT_TRUE(spool->Append(&m).ok());
  }
  // A crash in the middle of an append: a length promising more than is there.
  std::ofstream(dir_ + "/reports.log", std::ios::app | std::ios::binary) << std::string("\x40\x00\x00\x00partial", 11);
  {
    std::unique_ptr<Spool> spool = Open();
    ASSERT_EQ(spool->pending().size(), 1u);
    EXPECT_EQ(spool->pending()[0].logs().lines(0), "whole");
    gwo::v1::WorkerMessage m = Logs("next");
    ASSERT_TRUE(spool->Append(&m).ok());
  }
  std::unique_ptr<Spool> spool = Open();
  ASSERT_EQ(spool->pending().size(), 2u);
  EXPECT_EQ(spool->pending()[1].logs().lines(0), "next");
}

TEST_F(SpoolTest, ManyAcknowledgedRecordsAreCompactedAway) {
  std::unique_ptr<Spool> spool = Open();
  for (int i = 0; i < 2100; ++i) {
    gwo::v1::WorkerMessage m = Logs("line");
    ASSERT_TRUE(spool->Append(&m).ok());
  }
  ASSERT_TRUE(spool->Ack(2050).ok());  // 50 stay pending, the rest is rewritten away
  EXPECT_LT(std::filesystem::file_size(dir_ + "/reports.log"), 100u * 30u);
  spool.reset();
  spool = Open();
  ASSERT_EQ(spool->pending().size(), 50u);
  EXPECT_EQ(spool->pending().front().seq(), 2051);
}

}  // namespace
}  // namespace gwo::worker
