// The limits and rules of AccessControl that need no database: request rate, open
// streams, roles over projects, names.
#include "server/access/access_control.h"

#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gwo::server {
namespace {

using ::testing::HasSubstr;

TEST(AccessControlLimits, ACallerBeyondItsBurstIsRefusedUntilItsRateRefills) {
  AccessLimits limits;
  limits.requests_per_s = 20;
  limits.request_burst = 3;
  AccessControl access(nullptr, limits);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(access.AdmitRequest("ana").ok()) << i;
  absl::Status over = access.AdmitRequest("ana");
  EXPECT_EQ(over.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(over.message(), HasSubstr("ana sent more than 20 requests/s"));
  EXPECT_TRUE(access.AdmitRequest("bob").ok()) << "each caller has its own bucket";
  std::this_thread::sleep_for(std::chrono::milliseconds(120));  // 20/s: two more by now
  EXPECT_TRUE(access.AdmitRequest("ana").ok());
}

TEST(AccessControlLimits, OpenStreamsAreCountedPerCallerAndGivenBack) {
  AccessLimits limits;
  limits.streams_per_user = 2;
  limits.streams_per_worker_credential = 3;
  AccessControl access(nullptr, limits);
  Principal ana;
  ana.user = "ana";
  EXPECT_TRUE(access.AcquireStream(ana).ok());
  EXPECT_TRUE(access.AcquireStream(ana).ok());
  EXPECT_EQ(access.AcquireStream(ana).code(), absl::StatusCode::kResourceExhausted);
  access.ReleaseStream(ana.Actor());
  EXPECT_TRUE(access.AcquireStream(ana).ok());
  Principal rack;
  rack.kind = TokenKind::kWorker;
  rack.token_name = "rack";
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(access.AcquireStream(rack).ok()) << i;
  EXPECT_EQ(access.AcquireStream(rack).code(), absl::StatusCode::kResourceExhausted);
}

TEST(AccessControlRules, RolesOverProjects) {
  Principal viewer, member, admin, worker;
  viewer.role = Role::kViewer;
  viewer.projects = {"vision"};
  member.role = Role::kMember;
  member.projects = {"vision"};
  admin.role = Role::kAdmin;
  worker.kind = TokenKind::kWorker;
  EXPECT_TRUE(viewer.CanRead("vision"));
  EXPECT_FALSE(viewer.CanWrite("vision"));
  EXPECT_FALSE(viewer.CanRead("nlp"));
  EXPECT_TRUE(member.CanWrite("vision"));
  EXPECT_FALSE(member.CanRead("nlp"));
  EXPECT_TRUE(admin.CanWrite("nlp")) << "an admin acts in every project, member or not";
  EXPECT_FALSE(worker.CanRead("vision")) << "a worker credential reads no experiment";
}

TEST(AccessControlRules, RevocationAndUserChangesEndWhatWasAuthenticatedBefore) {
  AccessControl access(nullptr);
  Principal ana;
  ana.user = "ana";
  ana.token_id = 7;
  ana.token_name = "laptop";
  ana.authenticated_at = absl::Now();
  EXPECT_TRUE(access.StillValid(ana).ok());
  access.NoteUserChanged("bob");
  EXPECT_TRUE(access.StillValid(ana).ok());
  access.NoteUserChanged("ana");
  EXPECT_EQ(access.StillValid(ana).code(), absl::StatusCode::kUnauthenticated);
  ana.authenticated_at = absl::Now() + absl::Milliseconds(1);  // a later call
  EXPECT_TRUE(access.StillValid(ana).ok());
  access.NoteRevoked(7);
  EXPECT_THAT(access.StillValid(ana).message(), HasSubstr("laptop was revoked"));
  Principal expired = ana;
  expired.token_id = 8;
  expired.expires_at = absl::Now() - absl::Seconds(1);
  EXPECT_EQ(access.StillValid(expired).code(), absl::StatusCode::kUnauthenticated);
}

TEST(AccessControlRules, NamesArePlain) {
  EXPECT_TRUE(CheckAccessName("ana.b-c_1", "user").ok());
  for (const std::string& bad : {std::string(""), std::string(65, 'a'), std::string("a b"), std::string("a,b"),
                                 std::string("ä"), std::string("a/b")}) {
    EXPECT_EQ(CheckAccessName(bad, "project").code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace gwo::server
