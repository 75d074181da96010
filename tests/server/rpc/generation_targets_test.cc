// GenerationTargets (server/rpc/generation_router.h) over a real PostgreSQL: targets of
// succeeded runs are remembered for their time to live, others are read every time.
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "server/rpc/generation_router.h"
#include "tests/server/store/postgres_fixture.h"

namespace gwo::server {
namespace {

using GenerationTargetsTest = testing::PostgresTest;

TEST_F(GenerationTargetsTest, SucceededRunsAreRememberedForTheirTimeToLive) {
  const int64_t w = Worker("w1");
  CreateRuns({testing::MakeRun("a")});
  const Assignment a = Claim(w);
  ASSERT_TRUE(store_->RecordAttemptOutput(a.run_id, 1, "/w1/runs/a/out").ok());
  GenerationTargets targets(store_.get(), absl::Seconds(30));
  const absl::Time t0 = absl::Now();

  // Running: no final checkpoint yet; step:N resolves but is not remembered.
  EXPECT_EQ(targets.Resolve(a.run_id, "final", t0).status().code(), absl::StatusCode::kFailedPrecondition);
  absl::StatusOr<GenerationTarget> step = targets.Resolve(a.run_id, "step:5", t0);
  ASSERT_TRUE(step.ok()) << step.status();
  EXPECT_EQ(step->checkpoint_path, "/w1/runs/a/out/checkpoints/step-5.ckpt");

  ASSERT_TRUE(store_->FinishAttempt(a.run_id, 1, RunState::kSucceeded, "").ok());
  absl::StatusOr<GenerationTarget> final = targets.Resolve(a.run_id, "final", t0);
  ASSERT_TRUE(final.ok()) << final.status();
  EXPECT_EQ(final->worker, "w1");
  EXPECT_EQ(final->checkpoint_path, "/w1/runs/a/out/final.ckpt");

  // The store changes under it: the remembered target holds until its time is up.
  ASSERT_TRUE(Sql(absl::StrCat("UPDATE attempts SET output_dir = '/moved' WHERE run_id = ", a.run_id)).ok());
  EXPECT_EQ(targets.Resolve(a.run_id, "final", t0 + absl::Seconds(10))->checkpoint_path,
            "/w1/runs/a/out/final.ckpt");
  EXPECT_EQ(targets.Resolve(a.run_id, "final", t0 + absl::Seconds(31))->checkpoint_path, "/moved/final.ckpt");
  // step:5 was resolved while the run ran, so it was read again.
  EXPECT_EQ(targets.Resolve(a.run_id, "step:5", t0)->checkpoint_path, "/moved/checkpoints/step-5.ckpt");

  EXPECT_EQ(targets.Resolve(a.run_id + 100, "final", t0).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(targets.Resolve(a.run_id, "latest", t0).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace gwo::server
