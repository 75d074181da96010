// The one place a call is let in. Every method of every gwo service has a rule here
// (MethodRules; a test checks that none is missing); each handler's first line is
// Admit(ctx, its method), which authenticates the call's bearer token, applies the
// rule and the caller's request rate, and returns the caller. Handlers then check
// the project of what they touch (CheckExperiment, CheckRun), and state-changing
// calls write the audit log (Audit).
#ifndef GWO_SERVER_RPC_ACCESS_GATE_H_
#define GWO_SERVER_RPC_ACCESS_GATE_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "grpcpp/server_context.h"
#include "server/access/access_control.h"

namespace gwo::server {

enum class Need {
  kRead,    // any user token; the handler checks the project (NOT_FOUND otherwise)
  kWrite,   // a member or admin; the handler checks the project
  kAdmin,   // an admin
  kWorker,  // a worker credential (token or, with --tls_client_ca, client certificate)
};

struct MethodRule {
  std::string_view method;  // "ExperimentService/SubmitExperiment"
  Need need;
  bool audited;  // changes state: every call is written to the audit log
};

// Every method of every service the coordinator serves.
const std::vector<MethodRule>& MethodRules();

class AccessGate {
 public:
  // `worker_certificates`: a verified TLS client certificate is a worker credential
  // (the coordinator's --tls_client_ca).
  explicit AccessGate(AccessControl* access, bool worker_certificates = false)
      : access_(access), worker_certificates_(worker_certificates) {}

  // The caller, when its rate allows (a caller without a valid token is counted by
  // its address), its token (or certificate) is valid and the method's rule lets it
  // in. RESOURCE_EXHAUSTED, UNAUTHENTICATED or PERMISSION_DENIED otherwise; a refused
  // call of an audited method is audited too, unless refused for its rate.
  absl::StatusOr<Principal> Admit(grpc::ServerContextBase* ctx, std::string_view method);

  // OK when the caller may read (`write`: act on) the experiment, the run's
  // experiment, or the project; NOT_FOUND when it may not read it or it does not
  // exist; PERMISSION_DENIED when it may read but not act.
  absl::Status CheckExperiment(const Principal& p, int64_t experiment_id, bool write);
  absl::Status CheckRun(const Principal& p, int64_t run_id, bool write);
  absl::Status CheckProject(const Principal& p, const std::string& project, bool write);

  // Writes the audit entry of a call of an audited method (a store failure is logged).
  void Audit(grpc::ServerContextBase* ctx, const Principal* p, std::string_view method, const std::string& target,
             const absl::Status& outcome);

  AccessControl* access() const { return access_; }

 private:
  AccessControl* const access_;
  const bool worker_certificates_;
};

// An open stream's slot among its caller's streams (given back when destroyed) and
// its right to go on: streams ask StillValid() on every turn, so a token revoked or
// a user disabled through this coordinator ends them within a second, and a user's
// stream ends (DEADLINE_EXCEEDED) after kMaxUserStreamLifetime whatever its client's
// deadline: a server-side deadline (workers' streams last as long as the worker).
inline constexpr absl::Duration kMaxUserStreamLifetime = absl::Hours(24);

class StreamPass {
 public:
  // RESOURCE_EXHAUSTED when the caller has its limit of streams open.
  static absl::StatusOr<std::unique_ptr<StreamPass>> Open(AccessControl* access, Principal principal);
  ~StreamPass();
  StreamPass(const StreamPass&) = delete;
  StreamPass& operator=(const StreamPass&) = delete;

  absl::Status StillValid() const;
  const Principal& principal() const { return principal_; }

 private:
  StreamPass(AccessControl* access, Principal principal) : access_(access), principal_(std::move(principal)) {}
  AccessControl* const access_;
  const Principal principal_;
  const absl::Time opened_ = absl::Now();
};

}  // namespace gwo::server

#endif  // GWO_SERVER_RPC_ACCESS_GATE_H_
