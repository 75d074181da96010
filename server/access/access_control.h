// Who is calling and what they may do: bearer-token authentication against the
// store, the role and project rules, per-caller request rate and stream limits, and
// the revocations this coordinator made (so open streams end at once). No gRPC here:
// server/rpc/access_gate.h applies it to calls.
//
// Rules: a viewer reads the experiments of its projects; a member also submits and
// cancels there; an admin does everything in every project and manages users,
// projects and tokens. A worker credential opens only the worker stream; a user
// token never does. Another project's experiment is NOT_FOUND, not FORBIDDEN, so
// nothing says that it exists.
#ifndef GWO_SERVER_ACCESS_ACCESS_CONTROL_H_
#define GWO_SERVER_ACCESS_ACCESS_CONTROL_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/store/store.h"

namespace gwo::server {

struct Principal {
  TokenKind kind = TokenKind::kUser;
  int64_t token_id = 0;        // 0: a worker known by its TLS client certificate
  std::string token_name;
  std::string user;            // a user token's user
  Role role = Role::kViewer;
  std::set<std::string> projects;
  std::optional<absl::Time> expires_at;
  absl::Time authenticated_at;

  bool is_worker() const { return kind == TokenKind::kWorker; }
  // Who did it, for the audit log and messages: the user, or "worker:<token name>".
  std::string Actor() const;
  // Admin, or a member of the project.
  bool CanRead(const std::string& project) const;
  // Admin, or a user of role member who is a member of the project.
  bool CanWrite(const std::string& project) const;
};

inline constexpr absl::Duration kTokenCacheTtl = absl::Seconds(5);

struct AccessLimits {
  double requests_per_s = 200;   // per caller, sustained
  double request_burst = 400;    // per caller, at once
  int streams_per_user = 64;                // open metric, log and generation streams per user
  int streams_per_worker_credential = 1024;  // open worker streams per worker token (workers may share one)
};

// What the first start created (their texts are shown once).
struct BootstrapTokens {
  std::string admin_user;
  std::string admin_token;
  std::string worker_token;
};

class AccessControl {
 public:
  AccessControl(Store* store, AccessLimits limits = {});

  // The caller of an "authorization" header value ("Bearer <token>"). The stored token
  // and its user are remembered for kTokenCacheTtl (the secret is checked against the
  // stored hash on every call; revocations and user changes made through this
  // coordinator drop the entry at once, those of another coordinator sharing the
  // database take effect within the TTL). UNAUTHENTICATED
  // for a missing, malformed, unknown, wrong, expired or revoked token or a disabled
  // user (the message says which, and how to get a token); UNAVAILABLE when the
  // database cannot be asked.
  absl::StatusOr<Principal> Authenticate(absl::string_view authorization);
  // OK while the principal's token is not expired and this coordinator has not
  // revoked it, disabled its user or changed its user's role or projects since;
  // UNAUTHENTICATED otherwise (open streams check it on every turn).
  absl::Status StillValid(const Principal& p) const;
  // Calls that revoked a token or changed a user take effect on open streams.
  void NoteRevoked(int64_t token_id);
  void NoteUserChanged(const std::string& user);

  // RESOURCE_EXHAUSTED when the caller sent more than its rate allows.
  absl::Status AdmitRequest(const std::string& actor);
  // A slot for an open stream of the caller; RESOURCE_EXHAUSTED when it has its
  // limit open. ReleaseStream gives it back.
  absl::Status AcquireStream(const Principal& p);
  void ReleaseStream(const std::string& actor);

  // On a database without users: makes the admin "admin" (member of project
  // "default"), an admin token and a worker token, hands their texts to
  // `save_first` and, once that succeeded, stores them. True when it did; false
  // when users exist (nothing is made).
  absl::StatusOr<bool> BootstrapIfEmpty(const std::function<absl::Status(const BootstrapTokens&)>& save_first);

  // A new token for the user "admin" (made an enabled admin, created if missing): the
  // way back in when every admin token is lost (gwo-coordinator --new_admin_token).
  // Returns its text.
  absl::StatusOr<std::string> IssueAdminToken();

  Store* store() const { return store_; }

 private:
  struct Bucket {
    double tokens = 0;
    absl::Time refilled;
  };
  struct Cached {
    TokenRecord token;
    absl::Time fetched;
  };
  // The stored token of `lookup`: cached, or read from the store.
  absl::StatusOr<TokenRecord> StoredToken(const std::string& lookup);

  Store* const store_;
  const AccessLimits limits_;
  mutable absl::Mutex mu_;
  std::set<int64_t> revoked_ ABSL_GUARDED_BY(mu_);
  // Users changed since, with when: principals authenticated before are stale.
  std::map<std::string, absl::Time> user_changed_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> streams_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Cached> cache_ ABSL_GUARDED_BY(mu_);  // by lookup key
};

// 1-64 characters of [A-Za-z0-9_.-]: user and project names (as resources.project).
absl::Status CheckAccessName(const std::string& name, const char* what);

}  // namespace gwo::server

#endif  // GWO_SERVER_ACCESS_ACCESS_CONTROL_H_
