#include "server/access/access_control.h"

#include <algorithm>
#include <iterator>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/access/token.h"

namespace gwo::server {
namespace {

constexpr char kHowToGetOne[] =
    "; ask an admin for a token (gwoctl token create) and run gwoctl login, or set GWO_TOKEN";

absl::Status Unauthenticated(absl::string_view why) {
  return absl::UnauthenticatedError(absl::StrCat(why, kHowToGetOne));
}

}  // namespace

std::string Principal::Actor() const {
  if (is_worker()) return absl::StrCat("worker:", token_name);
  return user;
}

bool Principal::CanRead(const std::string& project) const {
  if (is_worker()) return false;
  return role == Role::kAdmin || projects.count(project) > 0;
}

bool Principal::CanWrite(const std::string& project) const {
  if (is_worker()) return false;
  return role == Role::kAdmin || (role == Role::kMember && projects.count(project) > 0);
}

AccessControl::AccessControl(Store* store, AccessLimits limits) : store_(store), limits_(limits) {}

absl::StatusOr<Principal> AccessControl::Authenticate(absl::string_view authorization) {
  if (authorization.empty()) return Unauthenticated("no token (metadata \"authorization: Bearer <token>\")");
  constexpr absl::string_view kBearer = "Bearer ";
  if (authorization.size() <= kBearer.size() ||
      !absl::EqualsIgnoreCase(authorization.substr(0, kBearer.size()), kBearer)) {
    return Unauthenticated("the authorization metadata is not \"Bearer <token>\"");
  }
  const absl::string_view text = absl::StripAsciiWhitespace(authorization.substr(kBearer.size()));
  absl::StatusOr<ParsedToken> parsed = ParseToken(std::string_view(text.data(), text.size()));
  if (!parsed.ok()) return Unauthenticated(parsed.status().message());
  absl::StatusOr<TokenRecord> stored = StoredToken(parsed->lookup);
  if (absl::IsNotFound(stored.status())) return Unauthenticated("unknown token");
  if (!stored.ok()) return absl::UnavailableError(absl::StrCat("cannot check the token: ", stored.status().message()));
  // The same answer for a wrong secret as for an unknown lookup key.
  if (stored->kind != parsed->kind || !SecretMatches(*parsed, *stored)) return Unauthenticated("unknown token");
  const absl::Time now = absl::Now();
  if (stored->revoked_at.has_value()) return Unauthenticated(absl::StrCat("token ", stored->name, " was revoked"));
  if (stored->expires_at.has_value() && *stored->expires_at <= now) {
    return Unauthenticated(absl::StrCat("token ", stored->name, " expired at ",
                                        absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", *stored->expires_at,
                                                         absl::UTCTimeZone())));
  }
  Principal p;
  p.kind = stored->kind;
  p.token_id = stored->id;
  p.token_name = stored->name;
  p.expires_at = stored->expires_at;
  p.authenticated_at = now;
  if (p.kind == TokenKind::kUser) {
    if (!stored->user.has_value()) return Unauthenticated("the token's user no longer exists");
    if (stored->user->disabled) return Unauthenticated(absl::StrCat("user ", stored->user->name, " is disabled"));
    p.user = stored->user->name;
    p.role = stored->user->role;
    p.projects.insert(stored->user->projects.begin(), stored->user->projects.end());
  }
  return p;
}

absl::StatusOr<TokenRecord> AccessControl::StoredToken(const std::string& lookup) {
  const absl::Time now = absl::Now();
  {
    absl::MutexLock lock(&mu_);
    auto it = cache_.find(lookup);
    if (it != cache_.end() && now - it->second.fetched < kTokenCacheTtl) return it->second.token;
  }
  absl::StatusOr<TokenRecord> stored = store_->FindToken(lookup);
  if (!stored.ok()) return stored;
  absl::MutexLock lock(&mu_);
  if (cache_.size() > 10000) cache_.clear();  // bounded; refilled on demand
  cache_[lookup] = Cached{*stored, now};
  return stored;
}

absl::Status AccessControl::StillValid(const Principal& p) const {
  if (p.expires_at.has_value() && *p.expires_at <= absl::Now()) {
    return absl::UnauthenticatedError(absl::StrCat("token ", p.token_name, " expired"));
  }
  absl::MutexLock lock(&mu_);
  if (p.token_id != 0 && revoked_.count(p.token_id)) {
    return absl::UnauthenticatedError(absl::StrCat("token ", p.token_name, " was revoked"));
  }
  if (!p.user.empty()) {
    auto it = user_changed_.find(p.user);
    if (it != user_changed_.end() && it->second >= p.authenticated_at) {
      return absl::UnauthenticatedError(
          absl::StrCat("user ", p.user, " was changed (role, projects or disabled): call again"));
    }
  }
  return absl::OkStatus();
}

void AccessControl::NoteRevoked(int64_t token_id) {
  absl::MutexLock lock(&mu_);
  revoked_.insert(token_id);
  for (auto it = cache_.begin(); it != cache_.end();) {
    it = it->second.token.id == token_id ? cache_.erase(it) : std::next(it);
  }
}

void AccessControl::NoteUserChanged(const std::string& user) {
  absl::MutexLock lock(&mu_);
  user_changed_[user] = absl::Now();
  for (auto it = cache_.begin(); it != cache_.end();) {
    const bool theirs = it->second.token.user.has_value() && it->second.token.user->name == user;
    it = theirs ? cache_.erase(it) : std::next(it);
  }
}

absl::Status AccessControl::AdmitRequest(const std::string& actor) {
  const absl::Time now = absl::Now();
  absl::MutexLock lock(&mu_);
  auto [it, fresh] = buckets_.try_emplace(actor, Bucket{limits_.request_burst, now});
  Bucket& b = it->second;
  if (!fresh) {
    b.tokens = std::min(limits_.request_burst, b.tokens + absl::ToDoubleSeconds(now - b.refilled) * limits_.requests_per_s);
    b.refilled = now;
  }
  if (b.tokens < 1) {
    return absl::ResourceExhaustedError(absl::StrCat(actor, " sent more than ", limits_.requests_per_s,
                                                     " requests/s (burst ", limits_.request_burst,
                                                     "); retry after a pause"));
  }
  b.tokens -= 1;
  return absl::OkStatus();
}

absl::Status AccessControl::AcquireStream(const Principal& p) {
  const std::string actor = p.Actor();
  const int limit = p.is_worker() ? limits_.streams_per_worker_credential : limits_.streams_per_user;
  absl::MutexLock lock(&mu_);
  int& open = streams_[actor];
  if (open >= limit) {
    return absl::ResourceExhaustedError(
        absl::StrCat(actor, " has ", open, " streams open, the most one caller may; close one first"));
  }
  ++open;
  return absl::OkStatus();
}

void AccessControl::ReleaseStream(const std::string& actor) {
  absl::MutexLock lock(&mu_);
  auto it = streams_.find(actor);
  if (it == streams_.end()) return;
  if (--it->second <= 0) streams_.erase(it);
}

absl::StatusOr<bool> AccessControl::BootstrapIfEmpty(
    const std::function<absl::Status(const BootstrapTokens&)>& save_first) {
  absl::StatusOr<std::vector<UserRecord>> users = store_->ListUsers();
  if (!users.ok()) return users.status();
  if (!users->empty()) return false;
  BootstrapTokens out;
  out.admin_user = "admin";
  absl::StatusOr<IssuedToken> admin = IssueToken(TokenKind::kUser, out.admin_user, "first-start admin", "gwo", std::nullopt);
  if (!admin.ok()) return admin.status();
  absl::StatusOr<IssuedToken> worker = IssueToken(TokenKind::kWorker, "", "first-start workers", "gwo", std::nullopt);
  if (!worker.ok()) return worker.status();
  out.admin_token = admin->text;
  out.worker_token = worker->text;
  if (absl::Status s = save_first(out); !s.ok()) return s;
  absl::Status s = store_->Bootstrap(out.admin_user, {admin->record, worker->record});
  if (absl::IsAlreadyExists(s)) return false;  // another coordinator was first
  if (!s.ok()) return s;
  return true;
}

absl::StatusOr<std::string> AccessControl::IssueAdminToken() {
  constexpr char kAdmin[] = "admin";
  absl::StatusOr<UserRecord> user = store_->GetUser(kAdmin);
  if (absl::IsNotFound(user.status())) user = store_->CreateUser(kAdmin, Role::kAdmin);
  if (!user.ok()) return user.status();
  if (user->role != Role::kAdmin || user->disabled) {
    user = store_->UpdateUser(kAdmin, Role::kAdmin, false);
    if (!user.ok()) return user.status();
    NoteUserChanged(kAdmin);
  }
  absl::StatusOr<IssuedToken> token =
      IssueToken(TokenKind::kUser, kAdmin, "recovery admin", "gwo-coordinator --new_admin_token", std::nullopt);
  if (!token.ok()) return token.status();
  absl::StatusOr<TokenRecord> stored = store_->CreateToken(token->record);
  if (!stored.ok()) return stored.status();
  return token->text;
}

absl::Status CheckAccessName(const std::string& name, const char* what) {
  bool plain = !name.empty() && name.size() <= 64;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') plain = false;
  }
  if (!plain) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " names are 1-64 characters of [A-Za-z0-9_.-], got \"", name, "\""));
  }
  return absl::OkStatus();
}

}  // namespace gwo::server
