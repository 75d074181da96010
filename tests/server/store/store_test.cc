// Store against a real PostgreSQL: schema, experiments and runs, cancellation.
#include <atomic>
#include <thread>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/store/migrations.h"
#include "server/store/pg_connection.h"
#include "tests/server/store/postgres_fixture.h"

namespace gwo::server::testing {
namespace {

using ::testing::HasSubstr;

class StoreTest : public PostgresTest {
 protected:
  // Creates an experiment with runs named `names` (no idempotency key).
  ExperimentRecord Create(const std::vector<std::string>& names) {
    std::vector<NewRun> runs;
    for (const std::string& n : names) runs.push_back(MakeRun(n));
    bool created = false;
    absl::StatusOr<ExperimentRecord> e = store_->CreateExperiment("exp", "name: exp\n", "", runs, &created);
    EXPECT_TRUE(e.ok()) << e.status();
    EXPECT_TRUE(created);
    return e.value_or(ExperimentRecord{});
  }
};

TEST_F(StoreTest, MigratesEmptyDatabase) {
  ASSERT_TRUE(Sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;").ok());
  EXPECT_EQ(store_->SchemaVersion().value(), 0);
  ASSERT_TRUE(store_->Migrate().ok());
  EXPECT_EQ(store_->SchemaVersion().value(), AllMigrations().back().version);
}

TEST_F(StoreTest, MigrateIsIdempotentOnMigratedDatabase) {
  const int version = store_->SchemaVersion().value();
  ASSERT_TRUE(store_->Migrate().ok());
  EXPECT_EQ(store_->SchemaVersion().value(), version);
  // Several coordinators migrating one empty database at once apply each version once.
  ASSERT_TRUE(Sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;").ok());
  std::vector<std::thread> threads;
  std::atomic<int> failures = 0;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      absl::StatusOr<std::unique_ptr<Store>> s = Store::Open(server()->url(), 1);
      if (!s.ok() || !(*s)->Migrate().ok()) ++failures;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(store_->SchemaVersion().value(), version);
}

TEST_F(StoreTest, NewerSchemaThanBinaryIsRefused) {
  ASSERT_TRUE(Sql("INSERT INTO schema_migrations (version) VALUES (9999)").ok());
  absl::Status st = store_->Migrate();
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
}

TEST_F(StoreTest, ExperimentAndRunsRoundTrip) {
  const absl::Time before = absl::Now() - absl::Seconds(2);
  NewRun a{"gwo-brown-s1", "gwo", "brown", 1, "variant: gwo\nseed: 1\n", 500, 2, 5};
  NewRun b{"base-math-s7", "baseline", "math-synth", 7, "variant: baseline\n", 1000, 0, -1};
  bool created = false;
  absl::StatusOr<ExperimentRecord> e =
      store_->CreateExperiment("gwo-vs-base", "name: gwo-vs-base\n", "key-1", {a, b}, &created);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_TRUE(created);
  const absl::Time after = absl::Now() + absl::Seconds(2);

  absl::StatusOr<ExperimentRecord> got = store_->GetExperiment(e->id);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->id, e->id);
  EXPECT_EQ(got->name, "gwo-vs-base");
  EXPECT_EQ(got->spec_yaml, "name: gwo-vs-base\n");
  EXPECT_EQ(got->idempotency_key, "key-1");
  EXPECT_EQ(got->state, ExperimentState::kActive);
  EXPECT_EQ(got->run_count, 2);
  EXPECT_EQ(got->runs_by_state.at(RunState::kQueued), 2);
  EXPECT_EQ(got->runs_by_state.at(RunState::kRunning), 0);
  EXPECT_GT(got->created_at, before);
  EXPECT_LT(got->created_at, after);
  EXPECT_EQ(got->created_at, e->created_at);
  EXPECT_FALSE(got->finished_at.has_value());

  absl::StatusOr<std::vector<RunRecord>> runs = store_->ListRuns(e->id);
  ASSERT_TRUE(runs.ok()) << runs.status();
  ASSERT_EQ(runs->size(), 2u);
  const RunRecord& r = (*runs)[0];
  EXPECT_GT(r.id, 0);
  EXPECT_LT(r.id, (*runs)[1].id);
  EXPECT_EQ(r.experiment_id, e->id);
  EXPECT_EQ(r.name, "gwo-brown-s1");
  EXPECT_EQ(r.variant, "gwo");
  EXPECT_EQ(r.dataset, "brown");
  EXPECT_EQ(r.seed, 1);
  EXPECT_EQ(r.state, RunState::kQueued);
  EXPECT_EQ(r.attempt, 0);
  EXPECT_EQ(r.step, 0);
  EXPECT_EQ(r.total_steps, 500);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.worker, "");
  EXPECT_EQ(r.spec_yaml, "variant: gwo\nseed: 1\n");
  EXPECT_TRUE(r.latest_metrics.empty());
  EXPECT_GT(r.created_at, before);
  EXPECT_LT(r.created_at, after);
  EXPECT_FALSE(r.started_at.has_value());
  EXPECT_FALSE(r.finished_at.has_value());
  EXPECT_EQ((*runs)[1].name, "base-math-s7");
  EXPECT_EQ((*runs)[1].seed, 7);
  EXPECT_EQ((*runs)[1].total_steps, 1000);

  // Claimed, the run shows its worker, attempt and start; GetRun agrees with ListRuns.
  const int64_t w = Worker("gpu-1");
  absl::StatusOr<std::optional<Assignment>> claim = store_->ClaimNextRun(w);
  ASSERT_TRUE(claim.ok() && claim->has_value());
  EXPECT_EQ((*claim)->run_id, r.id);  // priority 5 before -1
  EXPECT_EQ((*claim)->run_name, "gwo-brown-s1");
  EXPECT_EQ((*claim)->spec_yaml, "variant: gwo\nseed: 1\n");
  absl::StatusOr<RunRecord> running = store_->GetRun(r.id);
  ASSERT_TRUE(running.ok());
  EXPECT_EQ(running->state, RunState::kRunning);
  EXPECT_EQ(running->attempt, 1);
  EXPECT_EQ(running->worker, "gpu-1");
  ASSERT_TRUE(running->started_at.has_value());
  EXPECT_GE(*running->started_at, running->created_at);

  absl::StatusOr<std::vector<ExperimentRecord>> list = store_->ListExperiments(10);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].runs_by_state.at(RunState::kRunning), 1);
  EXPECT_EQ((*list)[0].runs_by_state.at(RunState::kQueued), 1);
}

TEST_F(StoreTest, AwkwardTextRoundTrips) {
  const std::string odd = "quote \" backslash \\ {brace,comma} 'single' NULL ünïcödé\ttab";
  NewRun run = MakeRun(odd);
  run.spec_yaml = odd;
  absl::StatusOr<ExperimentRecord> e = store_->CreateExperiment(odd, odd, odd, {run}, nullptr);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->name, odd);
  EXPECT_EQ(e->idempotency_key, odd);
  absl::StatusOr<std::vector<RunRecord>> runs = store_->ListRuns(e->id);
  ASSERT_TRUE(runs.ok());
  EXPECT_EQ((*runs)[0].name, odd);
  EXPECT_EQ((*runs)[0].spec_yaml, odd);
}

// What PostgreSQL would refuse in a text column (NUL, bytes that are not UTF-8,
// surrogates, overlong forms) becomes '?', byte by byte; valid text is kept as it is.
TEST(SanitizeText, ReplacesWhatIsNotUtf8AndKeepsTheRest) {
  EXPECT_EQ(SanitizeText("caf\xc3\xa9 \xf0\x9f\x98\x80"), "caf\xc3\xa9 \xf0\x9f\x98\x80");
  EXPECT_EQ(SanitizeText(std::string("a\0b", 3)), "a?b");
  EXPECT_EQ(SanitizeText("caf\xe9!"), "caf?!");
  EXPECT_EQ(SanitizeText("\xed\xa0\x80"), "???");  // a surrogate: PostgreSQL refuses it
  EXPECT_EQ(SanitizeText("\xe0\x80\xaf"), "???");  // overlong
}

// Every statement is parameterised: text that looks like SQL is data.
TEST_F(StoreTest, SqlLookingTextIsStoredVerbatim) {
  std::string hostile = "x'); DROP TABLE runs; -- \"; SELECT * FROM pg_authid WHERE '1'='1' $1 $$ E'\\x00' ";
  for (char c = 1; c < 0x20; ++c) hostile += c;  // every control character but NUL
  hostile += "\x7f end";
  const std::string yaml = "name: x\ndescription: \"" + hostile + "\"\n";
  NewRun run = MakeRun("r1");
  run.spec_yaml = yaml + "variant: '; DELETE FROM experiments; --'\n";
  absl::StatusOr<ExperimentRecord> e = store_->CreateExperiment(hostile, yaml, hostile, {run}, nullptr);
  ASSERT_TRUE(e.ok()) << e.status();
  absl::StatusOr<ExperimentRecord> read = store_->GetExperiment(e->id);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->name, hostile);
  EXPECT_EQ(read->spec_yaml, yaml);
  EXPECT_EQ(read->idempotency_key, hostile);
  EXPECT_EQ((*store_->ListRuns(e->id))[0].spec_yaml, run.spec_yaml);
  // Log lines and a worker's own strings take the same path.
  ASSERT_TRUE(store_->UpsertWorker({hostile, hostile, "[{\"kind\":\"'; DROP TABLE workers; --\"}]", 1}).ok());
  const int64_t w = Worker("w");
  CreateRuns({MakeRun("logged")});
  const Assignment a = Claim(w);
  ASSERT_TRUE(store_->AppendLogs(a.run_id, 1, {hostile, "second"}).ok());
  absl::StatusOr<std::vector<std::string>> tail = store_->TailLogs(a.run_id, 2);
  ASSERT_TRUE(tail.ok()) << tail.status();
  EXPECT_EQ(*tail, (std::vector<std::string>{hostile, "second"}));
  // And the tables are all still there.
  EXPECT_EQ(store_->ListExperiments(0)->size(), 2u);
}

TEST_F(StoreTest, DuplicateRunNamesAreInvalid) {
  absl::StatusOr<ExperimentRecord> e =
      store_->CreateExperiment("exp", "", "", {MakeRun("a"), MakeRun("a")}, nullptr);
  EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(store_->ListExperiments(10)->empty());
}

TEST_F(StoreTest, SameIdempotencyKeyReturnsSameExperiment) {
  bool created = false;
  absl::StatusOr<ExperimentRecord> first = store_->CreateExperiment("e", "", "k", {MakeRun("a")}, &created);
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(created);
  absl::StatusOr<ExperimentRecord> again =
      store_->CreateExperiment("other", "", "k", {MakeRun("x"), MakeRun("y")}, &created);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(created);
  EXPECT_EQ(again->id, first->id);
  EXPECT_EQ(again->name, "e");
  EXPECT_EQ(again->run_count, 1);
  // No key: always a new experiment.
  ASSERT_TRUE(store_->CreateExperiment("n1", "", "", {}, &created).ok());
  EXPECT_TRUE(created);
  ASSERT_TRUE(store_->CreateExperiment("n2", "", "", {}, &created).ok());
  EXPECT_TRUE(created);

  // Eight racing submissions of one key: exactly one creates.
  std::vector<std::thread> threads;
  std::atomic<int> creations = 0;
  std::vector<int64_t> ids(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      bool c = false;
      absl::StatusOr<ExperimentRecord> e =
          store_->CreateExperiment("race", "", "race-key", {MakeRun("a"), MakeRun("b")}, &c);
      ASSERT_TRUE(e.ok()) << e.status();
      ids[i] = e->id;
      if (c) ++creations;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(creations, 1);
  for (int64_t id : ids) EXPECT_EQ(id, ids[0]);
  EXPECT_EQ(store_->ListRuns(ids[0])->size(), 2u);
  EXPECT_EQ(store_->ListExperiments(0)->size(), 4u);
}

TEST_F(StoreTest, ListExperimentsIsNewestFirstAndLimited) {
  for (const char* n : {"one", "two", "three"}) ASSERT_TRUE(store_->CreateExperiment(n, "", "", {}, nullptr).ok());
  absl::StatusOr<std::vector<ExperimentRecord>> list = store_->ListExperiments(2);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "three");
  EXPECT_EQ((*list)[1].name, "two");
  // No runs: nothing to wait for.
  EXPECT_EQ((*list)[0].state, ExperimentState::kSucceeded);
  EXPECT_TRUE((*list)[0].finished_at.has_value());
}

TEST_F(StoreTest, CancelExperimentReturnsRunningAttempts) {
  ExperimentRecord e = Create({"a", "b", "c"});
  const int64_t w = Worker("w");
  std::optional<Assignment> a = store_->ClaimNextRun(w).value();
  ASSERT_TRUE(a.has_value());
  absl::StatusOr<std::vector<AttemptOnWorker>> stopped = store_->CancelExperiment(e.id);
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  ASSERT_EQ(stopped->size(), 1u);
  EXPECT_EQ((*stopped)[0].run_id, a->run_id);
  EXPECT_EQ((*stopped)[0].attempt, 1);
  EXPECT_EQ((*stopped)[0].worker_id, w);

  absl::StatusOr<ExperimentRecord> got = store_->GetExperiment(e.id);
  EXPECT_EQ(got->state, ExperimentState::kCancelled);
  EXPECT_EQ(got->runs_by_state.at(RunState::kCancelled), 3);
  EXPECT_TRUE(got->finished_at.has_value());
  for (const RunRecord& r : store_->ListRuns(e.id).value()) {
    EXPECT_EQ(r.state, RunState::kCancelled);
    EXPECT_TRUE(r.finished_at.has_value());
  }
  // The stopped attempt's late reports are refused; nothing is left to claim.
  EXPECT_EQ(store_->FinishAttempt(a->run_id, 1, RunState::kSucceeded, "").code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(store_->ClaimNextRun(w).value().has_value());
  // Again: nothing more to stop.
  EXPECT_TRUE(store_->CancelExperiment(e.id)->empty());
}

TEST_F(StoreTest, CancelRunStopsOnlyThatRun) {
  ExperimentRecord e = Create({"a", "b"});
  const int64_t w = Worker("w");
  std::optional<Assignment> a = store_->ClaimNextRun(w).value();
  bool cancelled = false;
  absl::StatusOr<std::optional<AttemptOnWorker>> running = store_->CancelRun(a->run_id, &cancelled);
  ASSERT_TRUE(running.ok());
  EXPECT_TRUE(cancelled);
  ASSERT_TRUE(running->has_value());
  EXPECT_EQ((*running)->worker_id, w);
  const int64_t other = store_->ListRuns(e.id).value()[1].id;
  absl::StatusOr<std::optional<AttemptOnWorker>> queued = store_->CancelRun(other, &cancelled);
  EXPECT_TRUE(cancelled);
  EXPECT_FALSE(queued->has_value());
  // Already over: nothing changes.
  EXPECT_FALSE(store_->CancelRun(other, &cancelled)->has_value());
  EXPECT_FALSE(cancelled);
  // Runs cancelled one by one make a failed, not a cancelled, experiment.
  EXPECT_EQ(store_->GetExperiment(e.id)->state, ExperimentState::kFailed);
}

TEST_F(StoreTest, UnknownIdsAreNotFound) {
  const auto not_found = [](const absl::Status& st) { return st.code() == absl::StatusCode::kNotFound; };
  EXPECT_TRUE(not_found(store_->GetExperiment(42).status()));
  EXPECT_TRUE(not_found(store_->ListRuns(42).status()));
  EXPECT_TRUE(not_found(store_->GetRun(42).status()));
  EXPECT_TRUE(not_found(store_->CancelExperiment(42).status()));
  EXPECT_TRUE(not_found(store_->CancelRun(42, nullptr).status()));
  EXPECT_TRUE(not_found(store_->MarkWorkerOffline(42)));
  EXPECT_TRUE(not_found(store_->ClaimNextRun(42).status()));
  EXPECT_TRUE(not_found(store_->RunningAttempts(42).status()));
  EXPECT_TRUE(not_found(store_->ReleaseWorkerAttempts(42, "gone")));
  EXPECT_TRUE(not_found(store_->RecordMetrics(42, 1, {{1, "loss", 1.0}})));
  EXPECT_TRUE(not_found(store_->AppendLogs(42, 1, {"x"})));
  EXPECT_TRUE(not_found(store_->FinishAttempt(42, 1, RunState::kSucceeded, "")));
  EXPECT_TRUE(not_found(store_->QueryMetrics(42, {}).status()));
  EXPECT_TRUE(not_found(store_->TailLogs(42, 10).status()));
  absl::Status st = store_->GetRun(42).status();
  EXPECT_THAT(std::string(st.message()), HasSubstr("42"));
}

}  // namespace
}  // namespace gwo::server::testing
