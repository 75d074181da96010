// Every RPC of every service x every kind of caller, over real gRPC on loopback, on
// a real PostgreSQL, with the real services and Coordinator: no token, a malformed,
// expired or revoked one, a worker credential on the user API, a user token on the
// worker stream, another project's member, a viewer calling a write, and the right
// token, which gets in. Also: revocation ends an open stream, the audit log records
// every state-changing call, and the rule table covers every method of the protos.
#include <chrono>
#include <functional>
#include <fstream>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "gwo/v1/access.grpc.pb.h"
#include "gwo/v1/experiments.grpc.pb.h"
#include "gwo/v1/generation.grpc.pb.h"
#include "gwo/v1/metrics.grpc.pb.h"
#include "gwo/v1/reports.grpc.pb.h"
#include "gwo/v1/workers.grpc.pb.h"
#include "server/access/access_control.h"
#include "server/access/token.h"
#include "server/coordinator.h"
#include "server/rpc/access_gate.h"
#include "server/rpc/access_service.h"
#include "server/rpc/experiment_service.h"
#include "server/rpc/generation_service.h"
#include "server/rpc/metric_service.h"
#include "server/rpc/queue_service.h"
#include "server/rpc/report_service.h"
#include "server/rpc/worker_service.h"
#include "tests/server/store/postgres_fixture.h"

namespace gwo::server::testing {
namespace {

using grpc::StatusCode;
using ::testing::HasSubstr;

// What a call needs (as MethodRules says) and what it touches.
enum class Target { kNone, kExperiment, kRun };

struct Call {
  std::string method;
  Target target;
  // Makes the call with `token` (empty: none) and returns its status.
  std::function<grpc::Status(const std::string& token)> run;
};

class AccessMatrixTest : public PostgresTest {
 protected:
  void SetUp() override {
    PostgresTest::SetUp();
    core_ = std::make_unique<Coordinator>(store_.get(), CoordinatorOptions{});
    access_ = std::make_unique<AccessControl>(store_.get(), Limits());
    gate_ = std::make_unique<AccessGate>(access_.get());
    experiments_ = std::make_unique<ExperimentServiceImpl>(core_.get(), gate_.get());
    metrics_ = std::make_unique<MetricServiceImpl>(core_.get(), gate_.get());
    reports_ = std::make_unique<ReportServiceImpl>(core_.get(), gate_.get());
    queue_ = std::make_unique<QueueServiceImpl>(core_.get(), gate_.get());
    router_ = std::make_unique<GenerationRouter>(false);
    generation_ = std::make_unique<GenerationServiceImpl>(store_.get(), router_.get(), gate_.get());
    workers_ = std::make_unique<WorkerServiceImpl>(core_.get(), router_.get(), gate_.get());
    access_service_ = std::make_unique<AccessServiceImpl>(gate_.get());
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    for (grpc::Service* s : std::initializer_list<grpc::Service*>{
             experiments_.get(), metrics_.get(), reports_.get(), queue_.get(), generation_.get(), workers_.get(),
             access_service_.get()}) {
      builder.RegisterService(s);
    }
    server_ = builder.BuildAndStart();
    ASSERT_NE(port, 0);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());

    ASSERT_TRUE(access_->BootstrapIfEmpty([&](const BootstrapTokens& t) {
                  admin_ = t.admin_token;
                  worker_ = t.worker_token;
                  return absl::OkStatus();
                }).value());
    ASSERT_TRUE(store_->CreateProject("alpha").ok());
    ASSERT_TRUE(store_->CreateProject("beta").ok());
    member_ = NewUser("ana", Role::kMember, "alpha");
    viewer_ = NewUser("vic", Role::kViewer, "alpha");
    other_ = NewUser("bob", Role::kMember, "beta");
    expired_ = Token("ana", absl::Now() - absl::Hours(1));
    revoked_ = Token("ana", std::nullopt);
    gwo::v1::ListTokensResponse tokens;
    ASSERT_TRUE(Access()->ListTokens(Ctx(admin_).get(), {}, &tokens).ok());
    gwo::v1::RevokeTokenRequest revoke;
    revoke.set_id(tokens.tokens(0).id());  // newest first: revoked_
    gwo::v1::RevokeTokenResponse revoked;
    ASSERT_TRUE(Access()->RevokeToken(Ctx(admin_).get(), revoke, &revoked).ok());

    corpus_ = absl::StrCat(::testing::TempDir(), "/access-corpus.txt");
    std::ofstream(corpus_) << "some text\n";
    exp_ = NewExperiment("alpha", {"r1", "r2"});
    run_ = runs_[0];
  }

  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
    server_.reset();
  }

  virtual AccessLimits Limits() { return {}; }

  std::unique_ptr<grpc::ClientContext> Ctx(const std::string& token, int seconds = 10) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    if (!token.empty()) ctx->AddMetadata("authorization", absl::StrCat("Bearer ", token));
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
    return ctx;
  }
  std::unique_ptr<gwo::v1::AccessService::Stub> Access() { return gwo::v1::AccessService::NewStub(channel_); }

  // A user of `role` in `project` and a token of theirs.
  std::string NewUser(const std::string& name, Role role, const std::string& project) {
    EXPECT_TRUE(store_->CreateUser(name, role).ok());
    EXPECT_TRUE(store_->SetProjectMember(project, name, true).ok());
    return Token(name, std::nullopt);
  }
  std::string Token(const std::string& user, std::optional<absl::Time> expires) {
    IssuedToken t = IssueToken(TokenKind::kUser, user, "test", "test", expires).value();
    EXPECT_TRUE(store_->CreateToken(t.record).ok());
    return t.text;
  }
  int64_t NewExperiment(const std::string& project, const std::vector<std::string>& names) {
    std::vector<NewRun> runs;
    for (const std::string& n : names) {
      NewRun r;
      r.name = n;
      r.variant = "v";
      r.dataset = "d";
      r.spec_yaml = "variant: v\n";
      r.project = project;
      runs.push_back(r);
    }
    ExperimentRecord e = store_->CreateExperiment("exp", "name: exp\n", "", runs, nullptr).value();
    const std::vector<RunRecord> stored = store_->ListRuns(e.id).value();
    for (const RunRecord& r : stored) runs_.push_back(r.id);
    return e.id;
  }

  // Every RPC of the API, each on the experiment exp_ / run run_ of project alpha.
  std::vector<Call> Calls() {
    std::vector<Call> calls;
    auto unary = [&](std::string method, Target target, auto fn) {
      calls.push_back({std::move(method), target, fn});
    };
    unary("ExperimentService/SubmitExperiment", Target::kNone, [this](const std::string& t) {
      gwo::v1::SubmitExperimentRequest req;
      req.set_spec_yaml(absl::StrCat("name: s\nresources: {project: alpha}\ndatasets: [{name: d, path: ", corpus_,
                                     "}]\n"));
      gwo::v1::SubmitExperimentResponse resp;
      return gwo::v1::ExperimentService::NewStub(channel_)->SubmitExperiment(Ctx(t).get(), req, &resp);
    });
    unary("ExperimentService/GetExperiment", Target::kExperiment, [this](const std::string& t) {
      gwo::v1::GetExperimentRequest req;
      req.set_experiment_id(exp_);
      gwo::v1::GetExperimentResponse resp;
      return gwo::v1::ExperimentService::NewStub(channel_)->GetExperiment(Ctx(t).get(), req, &resp);
    });
    unary("ExperimentService/ListExperiments", Target::kNone, [this](const std::string& t) {
      gwo::v1::ListExperimentsResponse resp;
      return gwo::v1::ExperimentService::NewStub(channel_)->ListExperiments(Ctx(t).get(), {}, &resp);
    });
    unary("ExperimentService/ListRuns", Target::kExperiment, [this](const std::string& t) {
      gwo::v1::ListRunsRequest req;
      req.set_experiment_id(exp_);
      gwo::v1::ListRunsResponse resp;
      return gwo::v1::ExperimentService::NewStub(channel_)->ListRuns(Ctx(t).get(), req, &resp);
    });
    unary("ExperimentService/GetRun", Target::kRun, [this](const std::string& t) {
      gwo::v1::GetRunRequest req;
      req.set_run_id(run_);
      gwo::v1::GetRunResponse resp;
      return gwo::v1::ExperimentService::NewStub(channel_)->GetRun(Ctx(t).get(), req, &resp);
    });
    unary("ExperimentService/CancelExperiment", Target::kExperiment, [this](const std::string& t) {
      gwo::v1::CancelExperimentRequest req;
      req.set_experiment_id(exp_);
      gwo::v1::CancelExperimentResponse resp;
      return gwo::v1::ExperimentService::NewStub(channel_)->CancelExperiment(Ctx(t).get(), req, &resp);
    });
    unary("ExperimentService/CancelRun", Target::kRun, [this](const std::string& t) {
      gwo::v1::CancelRunRequest req;
      req.set_run_id(run_);
      gwo::v1::CancelRunResponse resp;
      return gwo::v1::ExperimentService::NewStub(channel_)->CancelRun(Ctx(t).get(), req, &resp);
    });
    unary("QueueService/GetQueue", Target::kExperiment, [this](const std::string& t) {
      gwo::v1::GetQueueRequest req;
      req.set_experiment_id(exp_);
      gwo::v1::GetQueueResponse resp;
      return gwo::v1::QueueService::NewStub(channel_)->GetQueue(Ctx(t).get(), req, &resp);
    });
    unary("MetricService/QueryMetrics", Target::kRun, [this](const std::string& t) {
      gwo::v1::QueryMetricsRequest req;
      req.set_run_id(run_);
      gwo::v1::QueryMetricsResponse resp;
      return gwo::v1::MetricService::NewStub(channel_)->QueryMetrics(Ctx(t).get(), req, &resp);
    });
    unary("MetricService/QueryMetricSeries", Target::kRun, [this](const std::string& t) {
      gwo::v1::QueryMetricSeriesRequest req;
      req.set_run_id(run_);
      gwo::v1::QueryMetricSeriesResponse resp;
      return gwo::v1::MetricService::NewStub(channel_)->QueryMetricSeries(Ctx(t).get(), req, &resp);
    });
    unary("MetricService/StreamMetrics", Target::kRun, [this](const std::string& t) {
      gwo::v1::StreamMetricsRequest req;
      req.set_run_id(run_);
      auto ctx = Ctx(t, 2);  // the run is queued: a stream that gets in waits until the deadline
      auto reader = gwo::v1::MetricService::NewStub(channel_)->StreamMetrics(ctx.get(), req);
      gwo::v1::StreamMetricsResponse resp;
      while (reader->Read(&resp)) {
      }
      grpc::Status s = reader->Finish();
      return s.error_code() == StatusCode::DEADLINE_EXCEEDED ? grpc::Status::OK : s;
    });
    unary("MetricService/StreamLogs", Target::kRun, [this](const std::string& t) {
      gwo::v1::StreamLogsRequest req;
      req.set_run_id(run_);
      auto ctx = Ctx(t);
      auto reader = gwo::v1::MetricService::NewStub(channel_)->StreamLogs(ctx.get(), req);
      gwo::v1::StreamLogsResponse resp;
      while (reader->Read(&resp)) {
      }
      return reader->Finish();
    });
    unary("ReportService/GetReport", Target::kExperiment, [this](const std::string& t) {
      gwo::v1::GetReportRequest req;
      req.set_experiment_id(exp_);
      gwo::v1::GetReportResponse resp;
      return gwo::v1::ReportService::NewStub(channel_)->GetReport(Ctx(t).get(), req, &resp);
    });
    unary("ReportService/CompareRuns", Target::kRun, [this](const std::string& t) {
      gwo::v1::CompareRunsRequest req;
      req.add_run_ids(run_);
      req.add_run_ids(runs_[1]);
      gwo::v1::CompareRunsResponse resp;
      return gwo::v1::ReportService::NewStub(channel_)->CompareRuns(Ctx(t).get(), req, &resp);
    });
    unary("GenerationService/Generate", Target::kRun, [this](const std::string& t) {
      gwo::v1::GenerateRequest req;
      req.set_run_id(run_);
      auto ctx = Ctx(t);
      auto reader = gwo::v1::GenerationService::NewStub(channel_)->Generate(ctx.get(), req);
      gwo::v1::GenerateResponse resp;
      while (reader->Read(&resp)) {
      }
      grpc::Status s = reader->Finish();
      // Let in, it is refused for what it asks: the queued run has no checkpoint yet.
      return s.error_code() == StatusCode::FAILED_PRECONDITION ? grpc::Status::OK : s;
    });
    unary("WorkerService/Connect", Target::kNone, [this](const std::string& t) {
      auto ctx = Ctx(t);
      auto stream = gwo::v1::WorkerService::NewStub(channel_)->Connect(ctx.get());
      gwo::v1::WorkerMessage hello;
      hello.mutable_register_()->set_name("matrix-worker");
      hello.mutable_register_()->set_slots(1);
      stream->Write(hello);
      gwo::v1::CoordinatorMessage answer;
      const bool registered = stream->Read(&answer) && answer.has_registered();
      if (!registered) return stream->Finish();  // the refusal
      ctx->TryCancel();  // the worker leaves
      stream->Finish();
      return grpc::Status::OK;
    });
    unary("AccessService/WhoAmI", Target::kNone, [this](const std::string& t) {
      gwo::v1::WhoAmIResponse resp;
      return Access()->WhoAmI(Ctx(t).get(), {}, &resp);
    });
    unary("AccessService/ListProjects", Target::kNone, [this](const std::string& t) {
      gwo::v1::ListProjectsResponse resp;
      return Access()->ListProjects(Ctx(t).get(), {}, &resp);
    });
    unary("AccessService/CreateToken", Target::kNone, [this](const std::string& t) {
      gwo::v1::CreateTokenRequest req;
      req.set_name("own");
      gwo::v1::CreateTokenResponse resp;
      return Access()->CreateToken(Ctx(t).get(), req, &resp);
    });
    unary("AccessService/ListTokens", Target::kNone, [this](const std::string& t) {
      gwo::v1::ListTokensResponse resp;
      return Access()->ListTokens(Ctx(t).get(), {}, &resp);
    });
    unary("AccessService/RevokeToken", Target::kNone, [this](const std::string& t) {
      // The caller's own, new token.
      gwo::v1::CreateTokenRequest create;
      gwo::v1::CreateTokenResponse made;
      grpc::Status s = Access()->CreateToken(Ctx(t).get(), create, &made);
      if (!s.ok()) return s;
      gwo::v1::RevokeTokenRequest req;
      req.set_id(made.token().id());
      gwo::v1::RevokeTokenResponse resp;
      return Access()->RevokeToken(Ctx(t).get(), req, &resp);
    });
    unary("AccessService/CreateUser", Target::kNone, [this](const std::string& t) {
      gwo::v1::CreateUserRequest req;
      req.set_name(absl::StrCat("u", ++made_users_));
      gwo::v1::CreateUserResponse resp;
      return Access()->CreateUser(Ctx(t).get(), req, &resp);
    });
    unary("AccessService/ListUsers", Target::kNone, [this](const std::string& t) {
      gwo::v1::ListUsersResponse resp;
      return Access()->ListUsers(Ctx(t).get(), {}, &resp);
    });
    unary("AccessService/UpdateUser", Target::kNone, [this](const std::string& t) {
      gwo::v1::UpdateUserRequest req;
      req.set_name("vic");
      req.set_role(gwo::v1::ROLE_VIEWER);
      gwo::v1::UpdateUserResponse resp;
      return Access()->UpdateUser(Ctx(t).get(), req, &resp);
    });
    unary("AccessService/CreateProject", Target::kNone, [this](const std::string& t) {
      gwo::v1::CreateProjectRequest req;
      req.set_name(absl::StrCat("p", ++made_projects_));
      gwo::v1::CreateProjectResponse resp;
      return Access()->CreateProject(Ctx(t).get(), req, &resp);
    });
    unary("AccessService/SetProjectMember", Target::kNone, [this](const std::string& t) {
      gwo::v1::SetProjectMemberRequest req;
      req.set_project("beta");
      req.set_user("vic");
      req.set_member(false);
      gwo::v1::SetProjectMemberResponse resp;
      return Access()->SetProjectMember(Ctx(t).get(), req, &resp);
    });
    unary("AccessService/ListAudit", Target::kNone, [this](const std::string& t) {
      gwo::v1::ListAuditResponse resp;
      return Access()->ListAudit(Ctx(t).get(), {}, &resp);
    });
    return calls;
  }

  static const MethodRule& RuleOf(const std::string& method) {
    for (const MethodRule& r : MethodRules()) {
      if (r.method == method) return r;
    }
    ADD_FAILURE() << "no rule for " << method;
    static const MethodRule none{"", Need::kAdmin, false};
    return none;
  }

  std::unique_ptr<Coordinator> core_;
  std::unique_ptr<AccessControl> access_;
  std::unique_ptr<AccessGate> gate_;
  std::unique_ptr<ExperimentServiceImpl> experiments_;
  std::unique_ptr<MetricServiceImpl> metrics_;
  std::unique_ptr<ReportServiceImpl> reports_;
  std::unique_ptr<QueueServiceImpl> queue_;
  std::unique_ptr<GenerationRouter> router_;
  std::unique_ptr<GenerationServiceImpl> generation_;
  std::unique_ptr<WorkerServiceImpl> workers_;
  std::unique_ptr<AccessServiceImpl> access_service_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::string admin_, worker_, member_, viewer_, other_, expired_, revoked_, corpus_;
  int64_t exp_ = 0, run_ = 0;
  std::vector<int64_t> runs_;
  int made_users_ = 0, made_projects_ = 0;
};

TEST_F(AccessMatrixTest, EveryRpcRefusesWhomItMustAndLetsTheRightCallerIn) {
  const std::vector<Call> calls = Calls();
  ASSERT_EQ(calls.size(), MethodRules().size()) << "a call for every rule";
  const std::string malformed = "gwo_0123_not-a-token";
  // A well-formed token whose lookup key exists but whose secret is wrong.
  std::string wrong_secret = member_;
  wrong_secret.back() = wrong_secret.back() == '0' ? '1' : '0';

  for (const Call& call : calls) {
    SCOPED_TRACE(call.method);
    const MethodRule& rule = RuleOf(call.method);
    for (const auto& [who, token] : std::vector<std::pair<std::string, std::string>>{
             {"no token", ""}, {"malformed", malformed}, {"wrong secret", wrong_secret},
             {"expired", expired_}, {"revoked", revoked_}}) {
      grpc::Status s = call.run(token);
      EXPECT_EQ(s.error_code(), StatusCode::UNAUTHENTICATED) << who << ": " << s.error_message();
    }
    if (rule.need == Need::kWorker) {
      for (const std::string& user_token : {admin_, member_, viewer_}) {
        grpc::Status s = call.run(user_token);
        EXPECT_EQ(s.error_code(), StatusCode::PERMISSION_DENIED) << "user token: " << s.error_message();
      }
      EXPECT_TRUE(call.run(worker_).ok()) << "the worker token gets in";
      continue;
    }
    grpc::Status as_worker = call.run(worker_);
    EXPECT_EQ(as_worker.error_code(), StatusCode::PERMISSION_DENIED) << "worker token: " << as_worker.error_message();

    grpc::Status as_other = call.run(other_);
    if (rule.need == Need::kAdmin) {
      EXPECT_EQ(as_other.error_code(), StatusCode::PERMISSION_DENIED) << as_other.error_message();
    } else if (call.target != Target::kNone || call.method == "ExperimentService/SubmitExperiment") {
      EXPECT_EQ(as_other.error_code(), StatusCode::NOT_FOUND) << "another project's: " << as_other.error_message();
    } else {
      EXPECT_TRUE(as_other.ok()) << as_other.error_message();
    }

    grpc::Status as_viewer = call.run(viewer_);
    if (rule.need == Need::kWrite || rule.need == Need::kAdmin) {
      EXPECT_EQ(as_viewer.error_code(), StatusCode::PERMISSION_DENIED) << "viewer: " << as_viewer.error_message();
    } else {
      EXPECT_TRUE(as_viewer.ok()) << "viewer reads: " << as_viewer.error_message();
    }

    const std::string& right = rule.need == Need::kAdmin ? admin_ : member_;
    grpc::Status as_right = call.run(right);
    EXPECT_TRUE(as_right.ok()) << "the right token: " << as_right.error_message();
  }
}

TEST_F(AccessMatrixTest, AnotherProjectsExperimentsAreNotListedAndItsIdsLookUnknown) {
  const int64_t beta = NewExperiment("beta", {"b1"});
  gwo::v1::ListExperimentsResponse listed;
  ASSERT_TRUE(gwo::v1::ExperimentService::NewStub(channel_)->ListExperiments(Ctx(member_).get(), {}, &listed).ok());
  ASSERT_EQ(listed.experiments_size(), 1);
  EXPECT_EQ(listed.experiments(0).id(), exp_);
  EXPECT_EQ(listed.experiments(0).project(), "alpha");
  ASSERT_TRUE(gwo::v1::ExperimentService::NewStub(channel_)->ListExperiments(Ctx(admin_).get(), {}, &listed).ok());
  EXPECT_EQ(listed.experiments_size(), 2) << "an admin sees every project";

  // The same answer for another project's experiment as for one that does not exist.
  gwo::v1::GetExperimentRequest req;
  gwo::v1::GetExperimentResponse resp;
  req.set_experiment_id(beta);
  grpc::Status theirs = gwo::v1::ExperimentService::NewStub(channel_)->GetExperiment(Ctx(member_).get(), req, &resp);
  req.set_experiment_id(beta + 1000);
  grpc::Status none = gwo::v1::ExperimentService::NewStub(channel_)->GetExperiment(Ctx(member_).get(), req, &resp);
  EXPECT_EQ(theirs.error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(none.error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(theirs.error_message(), absl::StrCat("no experiment with id ", beta));
}

TEST_F(AccessMatrixTest, ASpecCannotTrainFromAnotherProjectsRun) {
  const int64_t beta = NewExperiment("beta", {"b1"});
  const int64_t theirs = runs_.back();
  (void)beta;
  auto submit = [&](int64_t from_run) {
    gwo::v1::SubmitExperimentRequest req;
    req.set_file_name("job.yaml");
    req.set_spec_yaml(absl::StrCat("name: s\nresources: {project: alpha}\ndatasets: [{name: d, path: ", corpus_,
                                   "}]\nmodel: {init: {from_run: ", from_run, "}}\n"));
    gwo::v1::SubmitExperimentResponse resp;
    return gwo::v1::ExperimentService::NewStub(channel_)->SubmitExperiment(Ctx(member_).get(), req, &resp);
  };
  grpc::Status s = submit(theirs);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr(absl::StrCat("model.init.from_run: no run with id ", theirs)));
  grpc::Status none = submit(theirs + 1000);
  EXPECT_EQ(none.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(none.error_message(), HasSubstr(absl::StrCat("model.init.from_run: no run with id ", theirs + 1000)));
}

TEST_F(AccessMatrixTest, RevokingATokenEndsItsOpenStreamAtOnce) {
  const std::string token = Token("ana", std::nullopt);
  gwo::v1::StreamMetricsRequest req;
  req.set_run_id(run_);
  auto ctx = Ctx(token, 30);
  auto reader = gwo::v1::MetricService::NewStub(channel_)->StreamMetrics(ctx.get(), req);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // open and waiting for points

  gwo::v1::ListTokensRequest list;
  list.set_user("ana");
  gwo::v1::ListTokensResponse tokens;
  ASSERT_TRUE(Access()->ListTokens(Ctx(admin_).get(), list, &tokens).ok());
  gwo::v1::RevokeTokenRequest revoke;
  revoke.set_id(tokens.tokens(0).id());  // newest first
  gwo::v1::RevokeTokenResponse revoked;
  const absl::Time at = absl::Now();
  ASSERT_TRUE(Access()->RevokeToken(Ctx(admin_).get(), revoke, &revoked).ok());

  gwo::v1::StreamMetricsResponse resp;
  while (reader->Read(&resp)) {
  }
  grpc::Status s = reader->Finish();
  EXPECT_EQ(s.error_code(), StatusCode::UNAUTHENTICATED) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("revoked"));
  EXPECT_LT(absl::Now() - at, absl::Seconds(3)) << "the stream ended within its poll interval";
}

TEST_F(AccessMatrixTest, StateChangingCallsAreAuditedWithWhoWhatAndOutcome) {
  gwo::v1::CancelRunRequest cancel;
  cancel.set_run_id(run_);
  gwo::v1::CancelRunResponse cancelled;
  ASSERT_TRUE(gwo::v1::ExperimentService::NewStub(channel_)->CancelRun(Ctx(member_).get(), cancel, &cancelled).ok());
  EXPECT_EQ(gwo::v1::ExperimentService::NewStub(channel_)->CancelRun(Ctx(viewer_).get(), cancel, &cancelled)
                .error_code(),
            StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(gwo::v1::ExperimentService::NewStub(channel_)->CancelRun(Ctx("").get(), cancel, &cancelled).error_code(),
            StatusCode::UNAUTHENTICATED);
  // Reads are not audited.
  gwo::v1::GetRunRequest get;
  get.set_run_id(run_);
  gwo::v1::GetRunResponse run;
  ASSERT_TRUE(gwo::v1::ExperimentService::NewStub(channel_)->GetRun(Ctx(member_).get(), get, &run).ok());

  gwo::v1::ListAuditResponse audit;
  ASSERT_TRUE(Access()->ListAudit(Ctx(admin_).get(), {}, &audit).ok());
  std::vector<std::string> lines;
  for (const auto& e : audit.entries()) {
    if (e.method() == "ExperimentService/CancelRun") {
      lines.push_back(absl::StrCat(e.actor(), " ", e.target(), " ", e.outcome().substr(0, e.outcome().find(':'))));
      EXPECT_THAT(e.peer(), HasSubstr("127.0.0.1"));
    }
    EXPECT_NE(e.method(), "ExperimentService/GetRun");
  }
  EXPECT_THAT(lines, ::testing::ElementsAre("-  UNAUTHENTICATED", "vic  PERMISSION_DENIED",
                                            absl::StrCat("ana run-", run_, " OK")));
}

TEST_F(AccessMatrixTest, TheRuleTableNamesEveryMethodOfEveryServiceAndNothingElse) {
  std::set<std::string> methods;
  for (const char* file : {"gwo/v1/access.proto", "gwo/v1/experiments.proto", "gwo/v1/generation.proto",
                           "gwo/v1/metrics.proto", "gwo/v1/reports.proto", "gwo/v1/workers.proto"}) {
    const google::protobuf::FileDescriptor* f = google::protobuf::DescriptorPool::generated_pool()->FindFileByName(file);
    ASSERT_NE(f, nullptr) << file;
    for (int s = 0; s < f->service_count(); ++s) {
      for (int m = 0; m < f->service(s)->method_count(); ++m) {
        methods.insert(absl::StrCat(f->service(s)->name(), "/", f->service(s)->method(m)->name()));
      }
    }
  }
  std::set<std::string> ruled;
  for (const MethodRule& r : MethodRules()) ruled.insert(std::string(r.method));
  EXPECT_EQ(methods, ruled);
}

// The same server with a burst of 5 requests per caller and (practically) no refill.
class AccessLimitTest : public AccessMatrixTest {
 protected:
  AccessLimits Limits() override {
    AccessLimits l;
    l.requests_per_s = 0.001;
    l.request_burst = 5;
    return l;
  }
};

TEST_F(AccessLimitTest, CallersBeyondTheirRateGetResourceExhaustedAndFloodNothing) {
  gwo::v1::GetRunRequest get;
  get.set_run_id(run_);
  gwo::v1::GetRunResponse run;
  std::vector<StatusCode> member;
  for (int i = 0; i < 7; ++i) {
    member.push_back(gwo::v1::ExperimentService::NewStub(channel_)->GetRun(Ctx(member_).get(), get, &run).error_code());
  }
  EXPECT_THAT(member, ::testing::ElementsAre(StatusCode::OK, StatusCode::OK, StatusCode::OK, StatusCode::OK,
                                             StatusCode::OK, StatusCode::RESOURCE_EXHAUSTED,
                                             StatusCode::RESOURCE_EXHAUSTED));
  // Callers without a token are counted by their address: a flood of refused calls
  // stops reaching the audit log.
  gwo::v1::CancelRunRequest cancel;
  cancel.set_run_id(run_);
  gwo::v1::CancelRunResponse cancelled;
  std::vector<StatusCode> anonymous;
  for (int i = 0; i < 7; ++i) {
    anonymous.push_back(
        gwo::v1::ExperimentService::NewStub(channel_)->CancelRun(Ctx("").get(), cancel, &cancelled).error_code());
  }
  EXPECT_THAT(anonymous, ::testing::ElementsAre(StatusCode::UNAUTHENTICATED, StatusCode::UNAUTHENTICATED,
                                                StatusCode::UNAUTHENTICATED, StatusCode::UNAUTHENTICATED,
                                                StatusCode::UNAUTHENTICATED, StatusCode::RESOURCE_EXHAUSTED,
                                                StatusCode::RESOURCE_EXHAUSTED));
  const std::vector<AuditRecord> audit = store_->ListAudit(100, 0).value();
  EXPECT_EQ(std::count_if(audit.begin(), audit.end(),
                          [](const AuditRecord& a) { return a.method == "ExperimentService/CancelRun"; }),
            5);
}

}  // namespace
}  // namespace gwo::server::testing
