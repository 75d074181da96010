// Test fixture over a real PostgreSQL: one EmbeddedPostgres per test process, in a
// fresh mkdtemp directory under /tmp (removed at the end), started by the first
// test suite that needs it. Every test starts from an empty, migrated database.
#ifndef GWO_TESTS_SERVER_STORE_POSTGRES_FIXTURE_H_
#define GWO_TESTS_SERVER_STORE_POSTGRES_FIXTURE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "server/store/embedded_postgres.h"
#include "server/store/store.h"

namespace gwo::server::testing {

class PostgresTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  // Drops and recreates schema "public", opens store_ (pool of 8) and migrates.
  void SetUp() override;

  // The server of this process; a test may replace it (same data directory).
  static std::unique_ptr<EmbeddedPostgres>& server();
  static EmbeddedPostgresOptions server_options();
  // Runs a statement on a fresh connection to the test database.
  static absl::Status Sql(const std::string& sql);

  // Registers a worker named `name` (one slot); its id.
  int64_t Worker(const std::string& name);
  // Creates experiment "exp" with `runs`; its id (0 after a test failure).
  int64_t CreateRuns(const std::vector<NewRun>& runs);
  // Claims the next queued run for `worker`, expecting one; an empty assignment after a
  // test failure.
  Assignment Claim(int64_t worker);

  std::unique_ptr<Store> store_;
};

// A run named `name` with the given priority and restarts, spec "spec of <name>".
NewRun MakeRun(const std::string& name, int priority = 0, int max_restarts = 3);

}  // namespace gwo::server::testing

#endif  // GWO_TESTS_SERVER_STORE_POSTGRES_FIXTURE_H_
