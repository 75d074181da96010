#include "common/tls.h"

#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gwo {
namespace {

using ::testing::HasSubstr;

TEST(Tls, LoopbackAddresses) {
  for (const char* a : {"127.0.0.1:7070", "127.1.2.3:0", "localhost:7070", "[::1]:7070", "127.0.0.1"}) {
    EXPECT_TRUE(IsLoopbackAddress(a)) << a;
  }
  for (const char* a : {"0.0.0.0:7070", "[::]:7070", ":7070", "10.0.0.5:7070", "gpu-host:7070", "[::2]:1"}) {
    EXPECT_FALSE(IsLoopbackAddress(a)) << a;
  }
}

TEST(Tls, NothingGivenIsPlaintextAndHalfAPairIsRefused) {
  EXPECT_TRUE(MakeServerCredentials({}).ok());
  EXPECT_TRUE(MakeChannelCredentials({}).ok());
  EXPECT_THAT(std::string(MakeServerCredentials({.cert = "c.pem"}).status().message()),
              HasSubstr("--tls_cert and --tls_key go together"));
  EXPECT_THAT(std::string(MakeServerCredentials({.client_ca = "ca.pem"}).status().message()),
              HasSubstr("--tls_client_ca needs --tls_cert and --tls_key"));
  EXPECT_THAT(std::string(MakeChannelCredentials({.cert = "w.pem", .key = "w.key"}).status().message()),
              HasSubstr("needs --tls_ca"));
}

TEST(Tls, UnreadableOrNonPemFilesAreNamed) {
  absl::Status missing = MakeChannelCredentials({.ca = "/nonexistent/ca.pem"}).status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(missing.message()), HasSubstr("cannot read the TLS CA /nonexistent/ca.pem"));
  const std::string junk = ::testing::TempDir() + "/gwo-tls-junk.pem";
  std::ofstream(junk) << "not a certificate\n";
  EXPECT_THAT(std::string(MakeServerCredentials({.cert = junk, .key = junk}).status().message()),
              HasSubstr("is not a PEM file"));
}

}  // namespace
}  // namespace gwo
