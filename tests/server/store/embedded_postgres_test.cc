// EmbeddedPostgres and the store across server restarts and outages.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "absl/strings/ascii.h"
#include "gmock/gmock.h"
#include "server/store/pg_connection.h"
#include "gtest/gtest.h"
#include "tests/server/store/postgres_fixture.h"

namespace gwo::server::testing {
namespace {

using ::testing::HasSubstr;

class EmbeddedPostgresTest : public PostgresTest {
 protected:
  int64_t CreateOne(Store& store) {
    absl::StatusOr<ExperimentRecord> e = store.CreateExperiment("kept", "", "", {MakeRun("a")}, nullptr);
    EXPECT_TRUE(e.ok()) << e.status();
    return e.ok() ? e->id : 0;
  }
};

TEST_F(EmbeddedPostgresTest, EmbeddedPostgresRestartKeepsData) {
  const int64_t id = CreateOne(*store_);
  const int port = server()->port();
  ASSERT_TRUE(server()->Restart().ok());
  EXPECT_EQ(server()->port(), port);
  // The store's connections died with the server; it reconnects by itself.
  absl::StatusOr<ExperimentRecord> e = store_->GetExperiment(id);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->name, "kept");
}

TEST_F(EmbeddedPostgresTest, StoppedServerIsUnavailableUntilBack) {
  const int64_t id = CreateOne(*store_);
  ASSERT_TRUE(server()->Stop().ok());
  absl::Status st = store_->GetExperiment(id).status();
  EXPECT_EQ(st.code(), absl::StatusCode::kUnavailable) << st;
  EXPECT_EQ(store_->UpsertWorker({"w", "h", "[]", 1}).status().code(), absl::StatusCode::kUnavailable);
  ASSERT_TRUE(server()->Restart().ok());
  EXPECT_TRUE(store_->GetExperiment(id).ok());
}

TEST_F(EmbeddedPostgresTest, StartAfterCrashReusesCluster) {
  const int64_t id = CreateOne(*store_);
  store_.reset();
  ASSERT_TRUE(server()->Stop().ok());
  // What a crashed owner leaves: a lock file naming a process that is gone.
  const std::string pid_file = server_options().data_dir + "/postgres/postmaster.pid";
  std::ofstream(pid_file) << "4194000\n" << server_options().data_dir << "/postgres\n";
  server().reset();
  absl::StatusOr<std::unique_ptr<EmbeddedPostgres>> pg = EmbeddedPostgres::Start(server_options());
  ASSERT_TRUE(pg.ok()) << pg.status();
  server() = std::move(pg).value();
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(server()->url());
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->GetExperiment(id)->name, "kept");
}

TEST_F(EmbeddedPostgresTest, UnreachableServerIsUnavailable) {
  // A port nothing listens on: bound here, never listened on, then closed.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  close(fd);
  absl::StatusOr<std::unique_ptr<Store>> store =
      Store::Open("host=127.0.0.1 port=" + std::to_string(ntohs(addr.sin_port)) + " user=gwo dbname=gwo");
  EXPECT_EQ(store.status().code(), absl::StatusCode::kUnavailable) << store.status();
  // A URL works too.
  store = Store::Open("postgresql://gwo@127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/gwo");
  EXPECT_EQ(store.status().code(), absl::StatusCode::kUnavailable) << store.status();
}

TEST_F(EmbeddedPostgresTest, MissingBinariesAreFailedPrecondition) {
  EmbeddedPostgresOptions options = server_options();
  options.bin_dir = "/nonexistent/bin";
  absl::StatusOr<std::unique_ptr<EmbeddedPostgres>> pg = EmbeddedPostgres::Start(options);
  EXPECT_EQ(pg.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(pg.status().message()), HasSubstr("/nonexistent/bin"));
}

TEST_F(EmbeddedPostgresTest, DataDirTheServerUserCannotEnterIsRefused) {
  if (geteuid() != 0) GTEST_SKIP() << "only root runs the server as another user";
  char tmpl[] = "/tmp/gwo-store-test-private-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);  // mode 0700, owned by root
  EmbeddedPostgresOptions options;
  options.data_dir = std::string(tmpl) + "/data";
  absl::StatusOr<std::unique_ptr<EmbeddedPostgres>> pg = EmbeddedPostgres::Start(options);
  std::filesystem::remove_all(tmpl);
  EXPECT_EQ(pg.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(pg.status().message()), HasSubstr(std::string("cannot enter ") + tmpl + " "));
  EXPECT_THAT(std::string(pg.status().message()), HasSubstr("/var/lib/gwo"));
}

// A fresh data directory the server user can enter (the tests may run as root).
std::string FreshDataDir() {
  char tmpl[] = "/tmp/gwo-pg-auth-test-XXXXXX";
  EXPECT_NE(mkdtemp(tmpl), nullptr);
  chmod(tmpl, 0755);
  return std::string(tmpl) + "/data";
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Nobody on the host reaches the cluster without the password, which only the
// coordinator's user can read.
TEST_F(EmbeddedPostgresTest, ConnectionsNeedThePasswordOnlyItsOwnerCanRead) {
  const std::string password_file = server_options().data_dir + "/postgres.password";
  struct stat st;
  ASSERT_EQ(stat(password_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_uid, geteuid());
  const std::string password(absl::StripAsciiWhitespace(Slurp(password_file)));
  EXPECT_EQ(password.size(), 64u);
  EXPECT_THAT(server()->url(), HasSubstr("password=" + password));

  const std::string base = absl::StrCat("host=127.0.0.1 port=", server()->port(), " user=gwo dbname=gwo");
  absl::StatusOr<std::unique_ptr<PgConnection>> none = PgConnection::Connect(base);
  ASSERT_FALSE(none.ok());
  EXPECT_THAT(std::string(none.status().message()), HasSubstr("password"));
  absl::StatusOr<std::unique_ptr<PgConnection>> wrong = PgConnection::Connect(base + " password=guess");
  ASSERT_FALSE(wrong.ok());
  EXPECT_THAT(std::string(wrong.status().message()), HasSubstr("password authentication failed"));
  // Another role (initdb's superuser is gwo; "postgres" does not exist) gets nowhere either.
  EXPECT_FALSE(PgConnection::Connect(absl::StrCat("host=127.0.0.1 port=", server()->port(),
                                                  " user=postgres dbname=postgres password=", password))
                   .ok());
  EXPECT_TRUE(PgConnection::Connect(base + " password=" + password).ok());
}

// A cluster an older gwo made (trust on loopback, no password file) is given a
// password on the next start and keeps its data.
TEST_F(EmbeddedPostgresTest, AClusterThatTrustedLoopbackGetsAPasswordAndKeepsItsData) {
  EmbeddedPostgresOptions options;
  options.data_dir = FreshDataDir();
  options.durable = false;
  int64_t id = 0;
  {
    absl::StatusOr<std::unique_ptr<EmbeddedPostgres>> pg = EmbeddedPostgres::Start(options);
    ASSERT_TRUE(pg.ok()) << pg.status();
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open((*pg)->url());
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->Migrate().ok());
    id = CreateOne(**store);
    // What the older gwo left: no password, trust in pg_hba.conf, no password file.
    absl::StatusOr<std::unique_ptr<PgConnection>> conn = PgConnection::Connect((*pg)->url());
    ASSERT_TRUE(conn.ok());
    ASSERT_TRUE((*conn)->Exec("ALTER ROLE gwo PASSWORD NULL").ok());
  }
  std::ofstream(options.data_dir + "/postgres/pg_hba.conf") << "host all all 127.0.0.1/32 trust\n";
  ASSERT_EQ(unlink((options.data_dir + "/postgres.password").c_str()), 0);
  // An upgrade interrupted before the role got its password left the password it
  // chose: the next start finishes the upgrade with that one.
  const std::string chosen(64, 'a');
  std::ofstream(options.data_dir + "/postgres.password.new") << chosen << "\n";

  absl::StatusOr<std::unique_ptr<EmbeddedPostgres>> pg = EmbeddedPostgres::Start(options);
  ASSERT_TRUE(pg.ok()) << pg.status();
  const std::string password(absl::StripAsciiWhitespace(Slurp(options.data_dir + "/postgres.password")));
  EXPECT_EQ(password, chosen);
  EXPECT_FALSE(std::filesystem::exists(options.data_dir + "/postgres.password.new"));
  EXPECT_FALSE(PgConnection::Connect(absl::StrCat("host=127.0.0.1 port=", (*pg)->port(), " user=gwo dbname=gwo")).ok());
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open((*pg)->url());
  ASSERT_TRUE(store.ok()) << store.status();
  absl::StatusOr<ExperimentRecord> e = (*store)->GetExperiment(id);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->name, "kept");
  store->reset();
  pg->reset();

  // A lost password file is not a reason to open the cluster: it is refused, naming it.
  ASSERT_EQ(unlink((options.data_dir + "/postgres.password").c_str()), 0);
  absl::StatusOr<std::unique_ptr<EmbeddedPostgres>> lost = EmbeddedPostgres::Start(options);
  EXPECT_EQ(lost.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(lost.status().message()),
              HasSubstr("asks for a password, but " + options.data_dir + "/postgres.password is missing"));
  std::filesystem::remove_all(std::filesystem::path(options.data_dir).parent_path());
}

}  // namespace
}  // namespace gwo::server::testing
