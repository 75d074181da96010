#include "client/access_commands.h"

#include <unistd.h>

#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "client/table.h"
#include "common/client_config.h"
#include "common/tls.h"
#include "gwo/v1/access.grpc.pb.h"

namespace gwo::client {
namespace {

using gwo::v1::AccessService;

std::string RoleText(gwo::v1::Role r) {
  switch (r) {
    case gwo::v1::ROLE_VIEWER:
      return "viewer";
    case gwo::v1::ROLE_MEMBER:
      return "member";
    case gwo::v1::ROLE_ADMIN:
      return "admin";
    default:
      return "?";
  }
}

bool ParseRole(const std::string& text, gwo::v1::Role* out) {
  if (text == "viewer") *out = gwo::v1::ROLE_VIEWER;
  else if (text == "member") *out = gwo::v1::ROLE_MEMBER;
  else if (text == "admin") *out = gwo::v1::ROLE_ADMIN;
  else {
    std::cerr << "gwoctl: a role is viewer, member or admin, got \"" << text << "\"\n";
    return false;
  }
  return true;
}

std::string When(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M", absl::FromUnixSeconds(t.seconds()), absl::LocalTimeZone());
}

// "90d", "12h", "30m", "45s" -> seconds; 0 for empty; -1 when malformed.
int64_t TtlSeconds(const std::string& text) {
  if (text.empty()) return 0;
  int64_t n = 0;
  const char unit = text.back();
  const int64_t scale = unit == 'd' ? 86400 : unit == 'h' ? 3600 : unit == 'm' ? 60 : unit == 's' ? 1 : 0;
  if (scale == 0 || !absl::SimpleAtoi(text.substr(0, text.size() - 1), &n) || n <= 0) return -1;
  return n * scale;
}

int Usage(const std::string& what) {
  std::cerr << "gwoctl: usage: " << what << "\n";
  return 2;
}

void PrintUser(const gwo::v1::User& u) {
  std::cout << u.name() << ": " << RoleText(u.role()) << (u.disabled() ? " (disabled)" : "") << ", projects: "
            << (u.projects().empty() ? "-" : absl::StrJoin(u.projects(), ", ")) << "\n";
}

}  // namespace

int Login(const Context& c, const std::string& tls_ca) {
  std::string token;
  if (const char* env = std::getenv("GWO_TOKEN"); env != nullptr && *env != '\0') {
    token = env;
  } else {
    if (isatty(STDIN_FILENO)) std::cerr << "gwo token for " << c.address << ": " << std::flush;
    std::getline(std::cin, token);
  }
  token = std::string(absl::StripAsciiWhitespace(token));
  if (token.empty()) {
    std::cerr << "gwoctl: login: no token given (on stdin or in GWO_TOKEN); an admin makes one with "
                 "gwoctl token create --user NAME\n";
    return 2;
  }
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials = MakeChannelCredentials({tls_ca});
  if (!credentials.ok()) {
    std::cerr << "gwoctl: " << credentials.status().message() << "\n";
    return 2;
  }
  Context with_token = c;
  with_token.channel = MakeCoordinatorChannel(c.address, *credentials, token);
  gwo::v1::WhoAmIResponse resp;
  grpc::Status s = AccessService::NewStub(with_token.channel)->WhoAmI(CallContext(c).get(), {}, &resp);
  if (!s.ok()) return FailCall(c, s);
  const std::string path = ClientConfigPath();
  absl::Status saved = UpdateClientConfig(path, [&](ClientConfig& config) {
    CoordinatorEntry& e = config.coordinators[c.address];
    e.token = token;
    e.tls_ca = tls_ca;
    config.current = c.address;
  });
  if (!saved.ok()) {
    std::cerr << "gwoctl: login: " << saved.message() << "\n";
    return 1;
  }
  std::cout << "logged in to " << c.address << " as ";
  PrintUser(resp.user());
  std::cout << "token saved in " << path << " (0600); gwoctl now talks to " << c.address << " by default\n";
  return 0;
}

int WhoAmI(const Context& c) {
  gwo::v1::WhoAmIResponse resp;
  grpc::Status s = AccessService::NewStub(c.channel)->WhoAmI(CallContext(c).get(), {}, &resp);
  if (!s.ok()) return FailCall(c, s);
  PrintUser(resp.user());
  std::cout << "token " << resp.token().id() << " \"" << resp.token().name() << "\", expires "
            << (resp.token().has_expires_at() ? When(resp.token().expires_at()) : "never") << ", coordinator "
            << c.address << "\n";
  return 0;
}

int UserCommand(const Context& c, const std::vector<std::string>& args, const AccessOptions& o) {
  auto stub = AccessService::NewStub(c.channel);
  const std::string verb = args.empty() ? "" : args[0];
  if (verb == "list" && args.size() == 1) {
    gwo::v1::ListUsersResponse resp;
    grpc::Status s = stub->ListUsers(CallContext(c).get(), {}, &resp);
    if (!s.ok()) return FailCall(c, s);
    Table t({"USER", "ROLE", "STATE", "PROJECTS", "CREATED"});
    for (const auto& u : resp.users()) {
      t.AddRow({u.name(), RoleText(u.role()), u.disabled() ? "disabled" : "active",
                u.projects().empty() ? "-" : absl::StrJoin(u.projects(), ","), When(u.created_at())});
    }
    std::cout << t.Render();
    return 0;
  }
  if (verb == "create" && args.size() == 2) {
    gwo::v1::CreateUserRequest req;
    req.set_name(args[1]);
    gwo::v1::Role role = gwo::v1::ROLE_MEMBER;
    if (!o.role.empty() && !ParseRole(o.role, &role)) return 2;
    req.set_role(role);
    for (const std::string& p : o.projects) req.add_projects(p);
    gwo::v1::CreateUserResponse resp;
    grpc::Status s = stub->CreateUser(CallContext(c).get(), req, &resp);
    if (!s.ok()) return FailCall(c, s);
    std::cout << "created ";
    PrintUser(resp.user());
    std::cout << "give them a token: gwoctl token create --user " << args[1] << "\n";
    return 0;
  }
  if ((verb == "set-role" && args.size() == 3) || ((verb == "disable" || verb == "enable") && args.size() == 2)) {
    gwo::v1::UpdateUserRequest req;
    req.set_name(args[1]);
    if (verb == "set-role") {
      gwo::v1::Role role;
      if (!ParseRole(args[2], &role)) return 2;
      req.set_role(role);
    } else {
      req.set_set_disabled(true);
      req.set_disabled(verb == "disable");
    }
    gwo::v1::UpdateUserResponse resp;
    grpc::Status s = stub->UpdateUser(CallContext(c).get(), req, &resp);
    if (!s.ok()) return FailCall(c, s);
    PrintUser(resp.user());
    return 0;
  }
  return Usage("gwoctl user list | create NAME [--role viewer|member|admin] [--projects a,b] | "
               "set-role NAME ROLE | disable NAME | enable NAME");
}

int ProjectCommand(const Context& c, const std::vector<std::string>& args, const AccessOptions&) {
  auto stub = AccessService::NewStub(c.channel);
  const std::string verb = args.empty() ? "" : args[0];
  if (verb == "list" && args.size() == 1) {
    gwo::v1::ListProjectsResponse resp;
    grpc::Status s = stub->ListProjects(CallContext(c).get(), {}, &resp);
    if (!s.ok()) return FailCall(c, s);
    Table t({"PROJECT", "MEMBERS", "CREATED"});
    for (const auto& p : resp.projects()) {
      t.AddRow({p.name(), p.members().empty() ? "-" : absl::StrJoin(p.members(), ","), When(p.created_at())});
    }
    std::cout << t.Render();
    return 0;
  }
  if (verb == "create" && args.size() == 2) {
    gwo::v1::CreateProjectRequest req;
    req.set_name(args[1]);
    gwo::v1::CreateProjectResponse resp;
    grpc::Status s = stub->CreateProject(CallContext(c).get(), req, &resp);
    if (!s.ok()) return FailCall(c, s);
    std::cout << "created project " << args[1] << "; add members with gwoctl project add " << args[1] << " USER\n";
    return 0;
  }
  if ((verb == "add" || verb == "remove") && args.size() == 3) {
    gwo::v1::SetProjectMemberRequest req;
    req.set_project(args[1]);
    req.set_user(args[2]);
    req.set_member(verb == "add");
    gwo::v1::SetProjectMemberResponse resp;
    grpc::Status s = stub->SetProjectMember(CallContext(c).get(), req, &resp);
    if (!s.ok()) return FailCall(c, s);
    std::cout << "project " << resp.project().name() << ": "
              << (resp.project().members().empty() ? "no members" : absl::StrJoin(resp.project().members(), ", "))
              << "\n";
    return 0;
  }
  return Usage("gwoctl project list | create NAME | add PROJECT USER | remove PROJECT USER");
}

int TokenCommand(const Context& c, const std::vector<std::string>& args, const AccessOptions& o) {
  auto stub = AccessService::NewStub(c.channel);
  const std::string verb = args.empty() ? "" : args[0];
  if (verb == "create" && args.size() == 1) {
    gwo::v1::CreateTokenRequest req;
    req.set_name(o.name);
    req.set_kind(o.worker ? gwo::v1::TOKEN_KIND_WORKER : gwo::v1::TOKEN_KIND_USER);
    req.set_user(o.user);
    const int64_t ttl = TtlSeconds(o.ttl);
    if (ttl < 0) return Usage("--ttl is a positive number with d, h, m or s, e.g. 90d");
    req.set_ttl_seconds(ttl);
    gwo::v1::CreateTokenResponse resp;
    grpc::Status s = stub->CreateToken(CallContext(c).get(), req, &resp);
    if (!s.ok()) return FailCall(c, s);
    // The secret alone on stdout (for scripts); the rest on stderr.
    std::cerr << "token " << resp.token().id() << " \"" << resp.token().name() << "\""
              << (o.worker ? " (worker)" : absl::StrCat(" for ", resp.token().user())) << ", expires "
              << (resp.token().has_expires_at() ? When(resp.token().expires_at()) : "never")
              << "; it is shown only now:\n";
    std::cout << resp.secret() << "\n";
    return 0;
  }
  if (verb == "list" && args.size() == 1) {
    gwo::v1::ListTokensRequest req;
    req.set_user(o.user);
    gwo::v1::ListTokensResponse resp;
    grpc::Status s = stub->ListTokens(CallContext(c).get(), req, &resp);
    if (!s.ok()) return FailCall(c, s);
    Table t({"ID", "KIND", "NAME", "USER", "CREATED", "BY", "EXPIRES", "REVOKED"});
    for (const auto& k : resp.tokens()) {
      t.AddRow({absl::StrCat(k.id()), k.kind() == gwo::v1::TOKEN_KIND_WORKER ? "worker" : "user", k.name(),
                k.user().empty() ? "-" : k.user(), When(k.created_at()), k.created_by(),
                k.has_expires_at() ? When(k.expires_at()) : "never", When(k.revoked_at())});
    }
    std::cout << t.Render();
    return 0;
  }
  if (verb == "revoke" && args.size() == 2) {
    int64_t id = 0;
    if (!absl::SimpleAtoi(args[1], &id) || id <= 0) return Usage("gwoctl token revoke ID (a number from token list)");
    gwo::v1::RevokeTokenRequest req;
    req.set_id(id);
    gwo::v1::RevokeTokenResponse resp;
    grpc::Status s = stub->RevokeToken(CallContext(c).get(), req, &resp);
    if (!s.ok()) return FailCall(c, s);
    std::cout << "revoked token " << id << " \"" << resp.token().name() << "\": calls and open streams with it "
              << "are refused from now on\n";
    return 0;
  }
  return Usage("gwoctl token create [--name N] [--ttl 90d] [--user U | --worker] | list [--user U] | revoke ID");
}

int Audit(const Context& c, const AccessOptions& o) {
  gwo::v1::ListAuditRequest req;
  req.set_limit(o.limit);
  gwo::v1::ListAuditResponse resp;
  grpc::Status s = AccessService::NewStub(c.channel)->ListAudit(CallContext(c).get(), req, &resp);
  if (!s.ok()) return FailCall(c, s);
  Table t({"ID", "WHEN", "ACTOR", "METHOD", "TARGET", "FROM", "OUTCOME"});
  for (auto it = resp.entries().rbegin(); it != resp.entries().rend(); ++it) {  // oldest first, like a log
    t.AddRow({absl::StrCat(it->id()),
              absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixSeconds(it->at().seconds()), absl::LocalTimeZone()),
              it->actor(), it->method(), it->target().empty() ? "-" : it->target(), it->peer(), it->outcome()});
  }
  std::cout << t.Render();
  return 0;
}

}  // namespace gwo::client
