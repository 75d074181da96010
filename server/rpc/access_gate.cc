#include "server/rpc/access_gate.h"

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace gwo::server {
namespace {

std::string Outcome(const absl::Status& s) {
  if (s.ok()) return "OK";
  return absl::StrCat(absl::StatusCodeToString(s.code()), ": ", s.message());
}

std::string MetadataValue(const grpc::ServerContextBase& ctx, std::string_view key) {
  const auto& md = ctx.client_metadata();
  auto it = md.find(grpc::string_ref(key.data(), key.size()));
  if (it == md.end()) return "";
  return std::string(it->second.data(), it->second.size());
}

// "ipv4:127.0.0.1:5000" -> "ipv4:127.0.0.1", "ipv6:[::1]:5000" -> "ipv6:[::1]".
std::string PeerHost(const std::string& peer) {
  const size_t colon = peer.rfind(':');
  const size_t scheme = peer.find(':');
  return colon == std::string::npos || colon == scheme ? peer : peer.substr(0, colon);
}

}  // namespace

const std::vector<MethodRule>& MethodRules() {
  static const std::vector<MethodRule> rules = {
      {"ExperimentService/SubmitExperiment", Need::kWrite, true},
      {"ExperimentService/GetExperiment", Need::kRead, false},
      {"ExperimentService/ListExperiments", Need::kRead, false},
      {"ExperimentService/ListRuns", Need::kRead, false},
      {"ExperimentService/GetRun", Need::kRead, false},
      {"ExperimentService/CancelExperiment", Need::kWrite, true},
      {"ExperimentService/CancelRun", Need::kWrite, true},
      {"QueueService/GetQueue", Need::kRead, false},
      {"MetricService/QueryMetrics", Need::kRead, false},
      {"MetricService/QueryMetricSeries", Need::kRead, false},
      {"MetricService/StreamMetrics", Need::kRead, false},
      {"MetricService/StreamLogs", Need::kRead, false},
      {"ReportService/GetReport", Need::kRead, false},
      {"ReportService/CompareRuns", Need::kRead, false},
      {"GenerationService/Generate", Need::kRead, false},
      {"WorkerService/Connect", Need::kWorker, true},
      {"AccessService/WhoAmI", Need::kRead, false},
      {"AccessService/ListProjects", Need::kRead, false},
      {"AccessService/CreateToken", Need::kRead, true},
      {"AccessService/ListTokens", Need::kRead, false},
      {"AccessService/RevokeToken", Need::kRead, true},
      {"AccessService/CreateUser", Need::kAdmin, true},
      {"AccessService/ListUsers", Need::kAdmin, false},
      {"AccessService/UpdateUser", Need::kAdmin, true},
      {"AccessService/CreateProject", Need::kAdmin, true},
      {"AccessService/SetProjectMember", Need::kAdmin, true},
      {"AccessService/ListAudit", Need::kAdmin, false},
  };
  return rules;
}

absl::StatusOr<Principal> AccessGate::Admit(grpc::ServerContextBase* ctx, std::string_view method_view) {
  const std::string method(method_view);
  const auto& rules = MethodRules();
  auto rule = std::find_if(rules.begin(), rules.end(), [&](const MethodRule& r) { return r.method == method; });
  if (rule == rules.end()) return absl::InternalError(absl::StrCat("no access rule for ", method));

  absl::StatusOr<Principal> p;
  const std::string authorization = MetadataValue(*ctx, "authorization");
  if (rule->need == Need::kWorker && worker_certificates_ && authorization.empty() &&
      ctx->auth_context() != nullptr && ctx->auth_context()->IsPeerAuthenticated()) {
    // A worker known by its client certificate, signed by --tls_client_ca.
    Principal worker;
    worker.kind = TokenKind::kWorker;
    std::vector<grpc::string_ref> names = ctx->auth_context()->GetPeerIdentity();
    worker.token_name = names.empty() ? "certificate" : std::string(names.front().data(), names.front().size());
    worker.authenticated_at = absl::Now();
    p = std::move(worker);
  } else {
    p = access_->Authenticate(authorization);
  }
  std::optional<Principal> who;  // authenticated, perhaps not let in: for the audit log
  if (p.ok()) who = *p;
  // Every caller is held to its rate, the unauthenticated ones by their address, before
  // anything else, so that no flood (of refused calls either) reaches the database or
  // the audit log.
  const std::string rate_key =
      p.ok() ? p->Actor() : absl::StrCat("unauthenticated caller from ", PeerHost(ctx->peer()));
  if (absl::Status rate = access_->AdmitRequest(rate_key); !rate.ok()) return rate;
  if (p.ok()) {
    if (rule->need == Need::kWorker && !p->is_worker()) {
      p = absl::PermissionDeniedError(
          "a user token cannot open the worker stream: workers use a worker token (gwow_..., gwoctl token create "
          "--worker) or a TLS client certificate");
    } else if (rule->need != Need::kWorker && p->is_worker()) {
      p = absl::PermissionDeniedError(absl::StrCat("a worker credential cannot call ", method,
                                                   ": use a user token (gwo_...)"));
    } else if (rule->need == Need::kWrite && p->role == Role::kViewer) {
      p = absl::PermissionDeniedError(absl::StrCat(p->user, " is a viewer: ", method, " needs role member or admin"));
    } else if (rule->need == Need::kAdmin && p->role != Role::kAdmin) {
      p = absl::PermissionDeniedError(absl::StrCat(method, " needs role admin; ", p->user, " is a ",
                                                   RoleName(p->role)));
    }
  }
  if (!p.ok() && rule->audited) Audit(ctx, who.has_value() ? &*who : nullptr, method, "", p.status());
  return p;
}

absl::Status AccessGate::CheckProject(const Principal& p, const std::string& project, bool write) {
  if (!p.CanRead(project)) return absl::NotFoundError(absl::StrCat("no project \"", project, "\" of yours"));
  if (write && !p.CanWrite(project)) {
    return absl::PermissionDeniedError(absl::StrCat(p.Actor(), " may only read in project ", project));
  }
  return absl::OkStatus();
}

absl::Status AccessGate::CheckExperiment(const Principal& p, int64_t experiment_id, bool write) {
  absl::StatusOr<std::string> project = access_->store()->ExperimentProject(experiment_id);
  if (!project.ok()) return project.status();
  if (!p.CanRead(*project)) return absl::NotFoundError(absl::StrCat("no experiment with id ", experiment_id));
  return CheckProject(p, *project, write);
}

absl::Status AccessGate::CheckRun(const Principal& p, int64_t run_id, bool write) {
  absl::StatusOr<std::string> project = access_->store()->RunProject(run_id);
  if (!project.ok()) return project.status();
  if (!p.CanRead(*project)) return absl::NotFoundError(absl::StrCat("no run with id ", run_id));
  return CheckProject(p, *project, write);
}

absl::StatusOr<std::unique_ptr<StreamPass>> StreamPass::Open(AccessControl* access, Principal principal) {
  if (absl::Status s = access->AcquireStream(principal); !s.ok()) return s;
  return std::unique_ptr<StreamPass>(new StreamPass(access, std::move(principal)));
}

StreamPass::~StreamPass() { access_->ReleaseStream(principal_.Actor()); }

absl::Status StreamPass::StillValid() const {
  if (!principal_.is_worker() && absl::Now() - opened_ > kMaxUserStreamLifetime) {
    return absl::DeadlineExceededError(absl::StrCat("a stream lasts at most ",
                                                    absl::FormatDuration(kMaxUserStreamLifetime),
                                                    " on this coordinator; open a new one"));
  }
  return access_->StillValid(principal_);
}

void AccessGate::Audit(grpc::ServerContextBase* ctx, const Principal* p, std::string_view method,
                       const std::string& target, const absl::Status& outcome) {
  AuditRecord e;
  e.actor = p != nullptr ? p->Actor() : "-";
  e.method = std::string(method);
  e.target = target;
  e.peer = ctx->peer();
  e.outcome = Outcome(outcome);
  if (absl::Status s = access_->store()->AppendAudit(e); !s.ok()) {
    LogWarning(absl::StrCat("audit log: cannot record ", e.actor, " ", e.method, " ", e.target, ": ", s.message()));
  }
}

}  // namespace gwo::server
