#include "tests/server/store/postgres_fixture.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/subprocess.h"
#include "server/store/pg_connection.h"

namespace gwo::server::testing {
namespace {

struct Shared {
  std::string dir;  // empty until the server was started
  std::string start_error;
  std::unique_ptr<EmbeddedPostgres> server;
};

Shared& shared() {
  static auto* s = new Shared;
  return *s;
}

// Stops the server and removes its directory after the last test.
class PostgresEnvironment : public ::testing::Environment {
 public:
  void TearDown() override {
    shared().server.reset();
    if (!shared().dir.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(shared().dir, ignored);
    }
  }
};
[[maybe_unused]] ::testing::Environment* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new PostgresEnvironment);

// initdb is most of a test process's start-up, and ctest runs each test in its own
// process. So the first process keeps a copy of its new, cleanly stopped cluster
// beside the test binary, and later ones start from a copy of that (falling back to
// initdb when the copy cannot be used, e.g. it was made by another user).
std::string TemplateDir() {
  std::error_code ignored;
  return (std::filesystem::read_symlink("/proc/self/exe", ignored).parent_path() / "store_test_cluster").string();
}

bool CopyTree(const std::string& from, const std::string& to) {
  SpawnOptions cp;
  cp.argv = {"cp", "-a", from, to};  // keeps owners
  return RunCommand(cp, absl::Minutes(1)).ok();
}

// The cluster's password file goes with it (EmbeddedPostgres keeps it beside the cluster).
std::string TemplatePassword() { return TemplateDir() + ".password"; }

absl::StatusOr<std::unique_ptr<EmbeddedPostgres>> StartServer(const EmbeddedPostgresOptions& options) {
  const std::string cluster = options.data_dir + "/postgres";
  const std::string password = options.data_dir + "/postgres.password";
  std::error_code ignored;
  if (std::filesystem::exists(TemplateDir() + "/PG_VERSION", ignored) &&
      std::filesystem::exists(TemplatePassword(), ignored) && CopyTree(TemplatePassword(), password) &&
      CopyTree(TemplateDir(), cluster)) {
    absl::StatusOr<std::unique_ptr<EmbeddedPostgres>> pg = EmbeddedPostgres::Start(options);
    if (pg.ok()) return pg;
    std::filesystem::remove_all(cluster, ignored);
    std::filesystem::remove(password, ignored);
    std::filesystem::remove_all(TemplateDir(), ignored);  // stale: made by another PostgreSQL version?
    std::filesystem::remove(TemplatePassword(), ignored);
  }
  absl::StatusOr<std::unique_ptr<EmbeddedPostgres>> pg = EmbeddedPostgres::Start(options);
  if (!pg.ok()) return pg;
  absl::Status stopped = (*pg)->Stop();
  if (!stopped.ok()) return stopped;
  // The password first: a template cluster is only used with its password beside it.
  const std::string copy = absl::StrCat(TemplateDir(), ".", getpid());
  const std::string password_copy = absl::StrCat(TemplatePassword(), ".", getpid());
  if (!std::filesystem::exists(TemplateDir(), ignored) && CopyTree(password, password_copy) &&
      rename(password_copy.c_str(), TemplatePassword().c_str()) == 0) {
    if (!CopyTree(cluster, copy) || rename(copy.c_str(), TemplateDir().c_str()) != 0) {
      std::filesystem::remove_all(copy, ignored);  // another process was first
    }
  }
  std::filesystem::remove(password_copy, ignored);
  absl::Status restarted = (*pg)->Restart();
  if (!restarted.ok()) return restarted;
  return pg;
}

}  // namespace

void PostgresTest::SetUpTestSuite() {
  Shared& s = shared();
  if (!s.dir.empty()) return;
  char tmpl[] = "/tmp/gwo-store-test-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    s.start_error = "mkdtemp failed";
    return;
  }
  s.dir = tmpl;
  chmod(tmpl, 0755);  // so that the unprivileged server user (when root) can enter it
  absl::StatusOr<std::unique_ptr<EmbeddedPostgres>> pg = StartServer(server_options());
  if (pg.ok()) {
    s.server = std::move(pg).value();
  } else {
    s.start_error = pg.status().ToString();
  }
}

std::unique_ptr<EmbeddedPostgres>& PostgresTest::server() { return shared().server; }

EmbeddedPostgresOptions PostgresTest::server_options() {
  EmbeddedPostgresOptions options;
  options.data_dir = shared().dir;
  options.durable = false;
  return options;
}

absl::Status PostgresTest::Sql(const std::string& sql) {
  absl::StatusOr<std::unique_ptr<PgConnection>> conn = PgConnection::Connect(server()->url());
  if (!conn.ok()) return conn.status();
  return (*conn)->ExecScript(sql);
}

void PostgresTest::SetUp() {
  ASSERT_NE(server(), nullptr) << "embedded PostgreSQL did not start: " << shared().start_error;
  ASSERT_TRUE(Sql("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;").ok());
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(server()->url(), 8);
  ASSERT_TRUE(store.ok()) << store.status();
  store_ = std::move(store).value();
  absl::Status migrated = store_->Migrate();
  ASSERT_TRUE(migrated.ok()) << migrated;
}

int64_t PostgresTest::Worker(const std::string& name) {
  absl::StatusOr<int64_t> id = store_->UpsertWorker({name, "host", "[]", 1});
  EXPECT_TRUE(id.ok()) << id.status();
  return id.value_or(0);
}

int64_t PostgresTest::CreateRuns(const std::vector<NewRun>& runs) {
  absl::StatusOr<ExperimentRecord> e = store_->CreateExperiment("exp", "", "", runs, nullptr);
  EXPECT_TRUE(e.ok()) << e.status();
  return e.ok() ? e->id : 0;
}

Assignment PostgresTest::Claim(int64_t worker) {
  absl::StatusOr<std::optional<Assignment>> a = store_->ClaimNextRun(worker);
  EXPECT_TRUE(a.ok()) << a.status();
  EXPECT_TRUE(a.ok() && a->has_value());
  return a.ok() && a->has_value() ? **a : Assignment{};
}

NewRun MakeRun(const std::string& name, int priority, int max_restarts) {
  NewRun run;
  run.name = name;
  run.variant = "baseline";
  run.dataset = "brown";
  run.seed = 1;
  run.spec_yaml = absl::StrCat("spec of ", name);
  run.total_steps = 100;
  run.max_restarts = max_restarts;
  run.priority = priority;
  return run;
}

}  // namespace gwo::server::testing
