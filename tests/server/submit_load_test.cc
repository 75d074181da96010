// 1,000 submissions from 20 concurrent clients over real gRPC to a real
// gwo-coordinator process on a real PostgreSQL; 10% are sent twice at once with the
// same idempotency key. Exactly 1,000 experiments must exist afterwards, each key
// once, and both calls of a retried pair must name the same experiment.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/client_config.h"
#include "common/subprocess.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "gwo/v1/experiments.grpc.pb.h"
#include "tests/server/store/postgres_fixture.h"

namespace gwo::server::testing {
namespace {

constexpr int kClients = 20;
constexpr int kPerClient = 50;  // 1,000 in all

// Reads the child's output until "listening on HOST:PORT"; returns HOST:PORT.
std::string WaitForAddress(Subprocess& child, absl::Duration timeout) {
  std::string out;
  const absl::Time deadline = absl::Now() + timeout;
  const std::string marker = "listening on ";
  while (absl::Now() < deadline) {
    pollfd p{child.output_fd(), POLLIN, 0};
    if (poll(&p, 1, 100) > 0) {
      char buf[4096];
      ssize_t n = read(child.output_fd(), buf, sizeof(buf));
      if (n <= 0) break;
      out.append(buf, n);
      size_t at = out.find(marker);
      if (at != std::string::npos) {
        size_t end = out.find(' ', at + marker.size());
        if (end != std::string::npos) return out.substr(at + marker.size(), end - at - marker.size());
      }
    }
  }
  ADD_FAILURE() << "gwo-coordinator did not start:\n" << out;
  return "";
}

class SubmitLoadTest : public PostgresTest {};

TEST_F(SubmitLoadTest, ThousandSubmissionsFromTwentyClientsWithRetriesMakeExactlyThousandExperiments) {
  const char* bin = std::getenv("GWO_BIN_DIR");
  ASSERT_NE(bin, nullptr) << "GWO_BIN_DIR is set by ctest";
  const std::string corpus = absl::StrCat("/tmp/gwo-submit-load-", getpid(), ".txt");
  std::ofstream(corpus) << "text\n";
  // The first start writes its admin token to this config (not the user's own).
  const std::string config = absl::StrCat("/tmp/gwo-submit-load-", getpid(), ".json");
  setenv("GWO_CONFIG", config.c_str(), 1);
  SpawnOptions o;
  // 1,100 calls from one admin in a few seconds: above the default rate limit.
  o.argv = {absl::StrCat(bin, "/gwo-coordinator"), "--listen", "127.0.0.1:0", "--database_url", server()->url(),
            "--rate_limit", "100000", "--rate_burst", "100000", "--path_roots", "/tmp"};
  o.capture_output = true;
  absl::StatusOr<Subprocess> child = Subprocess::Spawn(o);
  ASSERT_TRUE(child.ok()) << child.status();
  const std::string address = WaitForAddress(*child, absl::Seconds(30));
  ASSERT_FALSE(address.empty());
  absl::StatusOr<ClientConfig> saved = LoadClientConfig(config);
  ASSERT_TRUE(saved.ok()) << saved.status();
  const std::string token = saved->coordinators[address].token;
  ASSERT_FALSE(token.empty()) << "the first start wrote no admin token for " << address;
  std::remove(config.c_str());
  // Keep draining its log so that it never blocks on a full pipe.
  const int log_fd = child->output_fd();
  std::thread drain([log_fd] {
    char buf[4096];
    for (;;) {
      pollfd p{log_fd, POLLIN, 0};
      if (poll(&p, 1, 200) < 0) return;
      ssize_t n = read(log_fd, buf, sizeof(buf));
      if (n == 0) return;  // the coordinator exited
    }
  });

  std::mutex mu;
  std::map<std::string, int64_t> id_of_key;
  std::atomic<int> created{0}, deduplicated{0}, errors{0};
  auto submit = [&](gwo::v1::ExperimentService::Stub* stub, const std::string& key) {
    gwo::v1::SubmitExperimentRequest req;
    req.set_spec_yaml(absl::StrCat("name: load\ndatasets: [{name: d, path: ", corpus, "}]\n"));
    req.set_file_name("job.yaml");
    req.set_idempotency_key(key);
    gwo::v1::SubmitExperimentResponse resp;
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + token);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    grpc::Status s = stub->SubmitExperiment(&ctx, req, &resp);
    if (!s.ok()) {
      ++errors;
      ADD_FAILURE() << key << ": " << s.error_message();
      return;
    }
    ++(resp.deduplicated() ? deduplicated : created);
    std::lock_guard<std::mutex> lock(mu);
    auto [it, inserted] = id_of_key.emplace(key, resp.experiment().id());
    EXPECT_EQ(it->second, resp.experiment().id()) << "key " << key << " named two experiments";
  };
  const absl::Time start = absl::Now();
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      // Its own connection: a separate subchannel pool per client.
      grpc::ChannelArguments args;
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      auto stub = gwo::v1::ExperimentService::NewStub(
          grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
      for (int i = 0; i < kPerClient; ++i) {
        const std::string key = absl::StrCat("client", c, "-", i);
        if (i % 10 == 0) {
          // A retry racing the original, as after a timed-out first call.
          std::thread retry([&] { submit(stub.get(), key); });
          submit(stub.get(), key);
          retry.join();
        } else {
          submit(stub.get(), key);
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  const absl::Duration took = absl::Now() - start;
  std::cout << "1000 submissions (+100 retries) from 20 clients in " << absl::FormatDuration(took) << "\n";

  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(created.load(), kClients * kPerClient);
  EXPECT_EQ(deduplicated.load(), kClients * kPerClient / 10);
  EXPECT_EQ(id_of_key.size(), static_cast<size_t>(kClients * kPerClient));
  // What the coordinator stored: exactly 1,000 experiments, each key once, one run each.
  absl::StatusOr<std::vector<ExperimentRecord>> all = store_->ListExperiments(0);
  if (!all.ok()) {
    ADD_FAILURE() << all.status();
    all = std::vector<ExperimentRecord>{};
  }
  EXPECT_EQ(all->size(), static_cast<size_t>(kClients * kPerClient));
  std::set<std::string> keys;
  std::set<int64_t> ids;
  for (const ExperimentRecord& e : *all) {
    keys.insert(e.idempotency_key);
    ids.insert(e.id);
    EXPECT_EQ(e.run_count, 1);
  }
  EXPECT_EQ(keys.size(), static_cast<size_t>(kClients * kPerClient));
  for (const auto& [key, id] : id_of_key) {
    EXPECT_TRUE(keys.count(key)) << key;
    EXPECT_TRUE(ids.count(id)) << id;
  }
  EXPECT_LT(took, absl::Seconds(60));
  child->Signal(SIGTERM);
  EXPECT_TRUE(child->Wait().ok());
  drain.join();
  unlink(corpus.c_str());
}

}  // namespace
}  // namespace gwo::server::testing
