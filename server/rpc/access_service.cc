#include "server/rpc/access_service.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/access/token.h"
#include "server/rpc/convert.h"
#include "server/rpc/status.h"

namespace gwo::server {
namespace {

constexpr int kMaxAuditEntries = 10000;

gwo::v1::Role ToProto(Role r) {
  switch (r) {
    case Role::kViewer:
      return gwo::v1::ROLE_VIEWER;
    case Role::kMember:
      return gwo::v1::ROLE_MEMBER;
    case Role::kAdmin:
      return gwo::v1::ROLE_ADMIN;
  }
  return gwo::v1::ROLE_UNSPECIFIED;
}

std::optional<Role> FromProto(gwo::v1::Role r) {
  switch (r) {
    case gwo::v1::ROLE_VIEWER:
      return Role::kViewer;
    case gwo::v1::ROLE_MEMBER:
      return Role::kMember;
    case gwo::v1::ROLE_ADMIN:
      return Role::kAdmin;
    default:
      return std::nullopt;
  }
}

void ToProto(const UserRecord& u, gwo::v1::User* out) {
  out->set_name(u.name);
  out->set_role(ToProto(u.role));
  out->set_disabled(u.disabled);
  for (const std::string& p : u.projects) out->add_projects(p);
  SetTime(u.created_at, out->mutable_created_at());
}

void ToProto(const ProjectRecord& p, gwo::v1::Project* out) {
  out->set_name(p.name);
  for (const std::string& m : p.members) out->add_members(m);
  SetTime(p.created_at, out->mutable_created_at());
}

void ToProto(const TokenRecord& t, gwo::v1::Token* out) {
  out->set_id(t.id);
  out->set_kind(t.kind == TokenKind::kWorker ? gwo::v1::TOKEN_KIND_WORKER : gwo::v1::TOKEN_KIND_USER);
  out->set_name(t.name);
  if (t.user.has_value()) out->set_user(t.user->name);
  out->set_created_by(t.created_by);
  SetTime(t.created_at, out->mutable_created_at());
  if (t.expires_at.has_value()) SetTime(*t.expires_at, out->mutable_expires_at());
  if (t.revoked_at.has_value()) SetTime(*t.revoked_at, out->mutable_revoked_at());
}

// The caller's own token, or any for an admin; NOT_FOUND for another user's.
bool MayManageToken(const Principal& p, const TokenRecord& t) {
  if (p.role == Role::kAdmin) return true;
  return t.user.has_value() && t.user->name == p.user;
}

}  // namespace

grpc::ServerUnaryReactor* AccessServiceImpl::WhoAmI(grpc::CallbackServerContext* ctx, const gwo::v1::WhoAmIRequest*,
                                                    gwo::v1::WhoAmIResponse* resp) {
  absl::StatusOr<Principal> p = gate_->Admit(ctx, "AccessService/WhoAmI");
  if (!p.ok()) return Done(ctx, p.status());
  absl::StatusOr<UserRecord> user = store()->GetUser(p->user);
  if (!user.ok()) return Done(ctx, user.status());
  ToProto(*user, resp->mutable_user());
  absl::StatusOr<TokenRecord> token = store()->GetToken(p->token_id);
  if (token.ok()) ToProto(*token, resp->mutable_token());
  return Done(ctx, token.status());
}

grpc::ServerUnaryReactor* AccessServiceImpl::ListProjects(grpc::CallbackServerContext* ctx,
                                                          const gwo::v1::ListProjectsRequest*,
                                                          gwo::v1::ListProjectsResponse* resp) {
  absl::StatusOr<Principal> p = gate_->Admit(ctx, "AccessService/ListProjects");
  if (!p.ok()) return Done(ctx, p.status());
  absl::StatusOr<std::vector<ProjectRecord>> projects = store()->ListProjects();
  if (projects.ok()) {
    for (const ProjectRecord& project : *projects) {
      if (p->CanRead(project.name)) ToProto(project, resp->add_projects());
    }
  }
  return Done(ctx, projects.status());
}

grpc::ServerUnaryReactor* AccessServiceImpl::CreateToken(grpc::CallbackServerContext* ctx,
                                                         const gwo::v1::CreateTokenRequest* req,
                                                         gwo::v1::CreateTokenResponse* resp) {
  constexpr char kMethod[] = "AccessService/CreateToken";
  absl::StatusOr<Principal> p = gate_->Admit(ctx, kMethod);
  if (!p.ok()) return Done(ctx, p.status());
  const bool worker = req->kind() == gwo::v1::TOKEN_KIND_WORKER;
  const std::string user = worker ? "" : (req->user().empty() ? p->user : req->user());
  const std::string name = req->name().empty() ? (worker ? "worker" : "token") : req->name();
  absl::Status s;
  if (worker && !req->user().empty()) {
    s = absl::InvalidArgumentError("a worker token belongs to no user: leave user empty");
  } else if ((worker || user != p->user) && p->role != Role::kAdmin) {
    s = absl::PermissionDeniedError(worker ? "only an admin makes worker tokens"
                                           : "only an admin makes tokens for another user");
  } else if (req->ttl_seconds() < 0) {
    s = absl::InvalidArgumentError("ttl_seconds must be >= 0 (0: never expires)");
  } else if (name.size() > 200) {
    s = absl::InvalidArgumentError("a token name has at most 200 characters");
  }
  std::string target = worker ? absl::StrCat("worker token \"", name, "\"")
                              : absl::StrCat("token \"", name, "\" of ", user);
  if (s.ok()) {
    std::optional<absl::Time> expires;
    if (req->ttl_seconds() > 0) expires = absl::Now() + absl::Seconds(req->ttl_seconds());
    absl::StatusOr<IssuedToken> issued =
        IssueToken(worker ? TokenKind::kWorker : TokenKind::kUser, user, name, p->Actor(), expires);
    absl::StatusOr<TokenRecord> stored = issued.ok() ? store()->CreateToken(issued->record)
                                                     : absl::StatusOr<TokenRecord>(issued.status());
    if (stored.ok()) {
      ToProto(*stored, resp->mutable_token());
      resp->set_secret(issued->text);
      target = absl::StrCat("token ", stored->id, " (", target, ")");
    }
    s = stored.status();
  }
  gate_->Audit(ctx, &*p, kMethod, target, s);
  return Done(ctx, s);
}

grpc::ServerUnaryReactor* AccessServiceImpl::ListTokens(grpc::CallbackServerContext* ctx,
                                                        const gwo::v1::ListTokensRequest* req,
                                                        gwo::v1::ListTokensResponse* resp) {
  absl::StatusOr<Principal> p = gate_->Admit(ctx, "AccessService/ListTokens");
  if (!p.ok()) return Done(ctx, p.status());
  std::string user = req->user();
  if (p->role != Role::kAdmin) {
    if (!user.empty() && user != p->user) {
      return Done(ctx, absl::PermissionDeniedError("only an admin lists another user's tokens"));
    }
    user = p->user;
  }
  absl::StatusOr<std::vector<TokenRecord>> tokens = store()->ListTokens(user);
  if (tokens.ok()) {
    for (const TokenRecord& t : *tokens) ToProto(t, resp->add_tokens());
  }
  return Done(ctx, tokens.status());
}

grpc::ServerUnaryReactor* AccessServiceImpl::RevokeToken(grpc::CallbackServerContext* ctx,
                                                         const gwo::v1::RevokeTokenRequest* req,
                                                         gwo::v1::RevokeTokenResponse* resp) {
  constexpr char kMethod[] = "AccessService/RevokeToken";
  absl::StatusOr<Principal> p = gate_->Admit(ctx, kMethod);
  if (!p.ok()) return Done(ctx, p.status());
  absl::Status s = PositiveId(req->id(), "id");
  if (s.ok()) {
    absl::StatusOr<TokenRecord> t = store()->GetToken(req->id());
    if (t.ok() && !MayManageToken(*p, *t)) t = absl::NotFoundError(absl::StrCat("no token with id ", req->id()));
    if (t.ok()) t = store()->RevokeToken(req->id());
    if (t.ok()) {
      gate_->access()->NoteRevoked(t->id);
      ToProto(*t, resp->mutable_token());
    }
    s = t.status();
  }
  gate_->Audit(ctx, &*p, kMethod, absl::StrCat("token ", req->id()), s);
  return Done(ctx, s);
}

grpc::ServerUnaryReactor* AccessServiceImpl::CreateUser(grpc::CallbackServerContext* ctx,
                                                        const gwo::v1::CreateUserRequest* req,
                                                        gwo::v1::CreateUserResponse* resp) {
  constexpr char kMethod[] = "AccessService/CreateUser";
  absl::StatusOr<Principal> p = gate_->Admit(ctx, kMethod);
  if (!p.ok()) return Done(ctx, p.status());
  absl::Status s = CheckAccessName(req->name(), "user");
  const std::optional<Role> role =
      req->role() == gwo::v1::ROLE_UNSPECIFIED ? std::optional<Role>(Role::kMember) : FromProto(req->role());
  if (s.ok() && !role.has_value()) s = absl::InvalidArgumentError("role must be viewer, member or admin");
  for (const std::string& project : req->projects()) {
    if (s.ok()) s = CheckAccessName(project, "project");
  }
  if (s.ok() && req->projects_size() > 0) {  // all of them exist, or no user is made
    absl::StatusOr<std::vector<ProjectRecord>> projects = store()->ListProjects();
    s = projects.status();
    for (const std::string& wanted : req->projects()) {
      if (!s.ok()) break;
      const bool exists = std::any_of(projects->begin(), projects->end(),
                                      [&](const ProjectRecord& p) { return p.name == wanted; });
      if (!exists) s = absl::NotFoundError(absl::StrCat("no project named \"", wanted, "\" (gwoctl project create)"));
    }
  }
  if (s.ok()) {
    absl::StatusOr<UserRecord> user = store()->CreateUser(req->name(), *role);
    for (const std::string& project : req->projects()) {
      if (user.ok()) {
        absl::Status added = store()->SetProjectMember(project, req->name(), true);
        if (!added.ok()) user = added;
      }
    }
    if (user.ok()) user = store()->GetUser(req->name());
    if (user.ok()) ToProto(*user, resp->mutable_user());
    s = user.status();
  }
  gate_->Audit(ctx, &*p, kMethod, absl::StrCat("user ", req->name()), s);
  return Done(ctx, s);
}

grpc::ServerUnaryReactor* AccessServiceImpl::ListUsers(grpc::CallbackServerContext* ctx,
                                                       const gwo::v1::ListUsersRequest*,
                                                       gwo::v1::ListUsersResponse* resp) {
  absl::StatusOr<Principal> p = gate_->Admit(ctx, "AccessService/ListUsers");
  if (!p.ok()) return Done(ctx, p.status());
  absl::StatusOr<std::vector<UserRecord>> users = store()->ListUsers();
  if (users.ok()) {
    for (const UserRecord& u : *users) ToProto(u, resp->add_users());
  }
  return Done(ctx, users.status());
}

grpc::ServerUnaryReactor* AccessServiceImpl::UpdateUser(grpc::CallbackServerContext* ctx,
                                                        const gwo::v1::UpdateUserRequest* req,
                                                        gwo::v1::UpdateUserResponse* resp) {
  constexpr char kMethod[] = "AccessService/UpdateUser";
  absl::StatusOr<Principal> p = gate_->Admit(ctx, kMethod);
  if (!p.ok()) return Done(ctx, p.status());
  std::optional<Role> role;
  absl::Status s;
  if (req->role() != gwo::v1::ROLE_UNSPECIFIED) {
    role = FromProto(req->role());
    if (!role.has_value()) s = absl::InvalidArgumentError("role must be viewer, member or admin");
  }
  const std::optional<bool> disabled = req->set_disabled() ? std::optional<bool>(req->disabled()) : std::nullopt;
  // The last enabled admin stays one: otherwise nobody could manage gwo any more.
  const bool loses_admin = (role.has_value() && *role != Role::kAdmin) || disabled.value_or(false);
  if (s.ok() && loses_admin) {
    absl::StatusOr<std::vector<UserRecord>> users = store()->ListUsers();
    if (!users.ok()) {
      s = users.status();
    } else {
      const int other_admins = static_cast<int>(std::count_if(users->begin(), users->end(), [&](const UserRecord& u) {
        return u.role == Role::kAdmin && !u.disabled && u.name != req->name();
      }));
      const bool is_admin = std::any_of(users->begin(), users->end(), [&](const UserRecord& u) {
        return u.name == req->name() && u.role == Role::kAdmin && !u.disabled;
      });
      if (is_admin && other_admins == 0) {
        s = absl::FailedPreconditionError(absl::StrCat(req->name(), " is the last admin: make another admin first"));
      }
    }
  }
  if (s.ok()) {
    absl::StatusOr<UserRecord> user = store()->UpdateUser(req->name(), role, disabled);
    if (user.ok()) {
      gate_->access()->NoteUserChanged(user->name);
      ToProto(*user, resp->mutable_user());
    }
    s = user.status();
  }
  gate_->Audit(ctx, &*p, kMethod,
               absl::StrCat("user ", req->name(), role.has_value() ? absl::StrCat(" role ", RoleName(*role)) : "",
                            disabled.has_value() ? (*disabled ? " disabled" : " enabled") : ""),
               s);
  return Done(ctx, s);
}

grpc::ServerUnaryReactor* AccessServiceImpl::CreateProject(grpc::CallbackServerContext* ctx,
                                                           const gwo::v1::CreateProjectRequest* req,
                                                           gwo::v1::CreateProjectResponse* resp) {
  constexpr char kMethod[] = "AccessService/CreateProject";
  absl::StatusOr<Principal> p = gate_->Admit(ctx, kMethod);
  if (!p.ok()) return Done(ctx, p.status());
  absl::Status s = CheckAccessName(req->name(), "project");
  if (s.ok()) s = store()->CreateProject(req->name());
  if (s.ok()) {
    resp->mutable_project()->set_name(req->name());
    SetTime(absl::Now(), resp->mutable_project()->mutable_created_at());
  }
  gate_->Audit(ctx, &*p, kMethod, absl::StrCat("project ", req->name()), s);
  return Done(ctx, s);
}

grpc::ServerUnaryReactor* AccessServiceImpl::SetProjectMember(grpc::CallbackServerContext* ctx,
                                                              const gwo::v1::SetProjectMemberRequest* req,
                                                              gwo::v1::SetProjectMemberResponse* resp) {
  constexpr char kMethod[] = "AccessService/SetProjectMember";
  absl::StatusOr<Principal> p = gate_->Admit(ctx, kMethod);
  if (!p.ok()) return Done(ctx, p.status());
  absl::Status s = store()->SetProjectMember(req->project(), req->user(), req->member());
  if (s.ok()) {
    gate_->access()->NoteUserChanged(req->user());
    absl::StatusOr<std::vector<ProjectRecord>> projects = store()->ListProjects();
    if (projects.ok()) {
      for (const ProjectRecord& project : *projects) {
        if (project.name == req->project()) ToProto(project, resp->mutable_project());
      }
    }
    s = projects.status();
  }
  gate_->Audit(ctx, &*p, kMethod,
               absl::StrCat("project ", req->project(), req->member() ? " + " : " - ", req->user()), s);
  return Done(ctx, s);
}

grpc::ServerUnaryReactor* AccessServiceImpl::ListAudit(grpc::CallbackServerContext* ctx,
                                                       const gwo::v1::ListAuditRequest* req,
                                                       gwo::v1::ListAuditResponse* resp) {
  absl::StatusOr<Principal> p = gate_->Admit(ctx, "AccessService/ListAudit");
  if (!p.ok()) return Done(ctx, p.status());
  if (req->limit() < 0 || req->limit() > kMaxAuditEntries || req->before_id() < 0) {
    return Done(ctx, absl::InvalidArgumentError(
                         absl::StrCat("limit must be in [0, ", kMaxAuditEntries, "] and before_id >= 0")));
  }
  absl::StatusOr<std::vector<AuditRecord>> entries =
      store()->ListAudit(req->limit() == 0 ? 100 : req->limit(), req->before_id());
  if (entries.ok()) {
    for (const AuditRecord& a : *entries) {
      gwo::v1::AuditEntry* out = resp->add_entries();
      out->set_id(a.id);
      SetTime(a.at, out->mutable_at());
      out->set_actor(a.actor);
      out->set_method(a.method);
      out->set_target(a.target);
      out->set_peer(a.peer);
      out->set_outcome(a.outcome);
    }
  }
  return Done(ctx, entries.status());
}

}  // namespace gwo::server
