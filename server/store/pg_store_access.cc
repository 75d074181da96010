// PgStore: users, projects, tokens and the audit log (migration 0006).
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "server/store/pg_store.h"

namespace gwo::server {
namespace {

constexpr char kUniqueViolation[] = "[23505]";

std::string IdText(int64_t id) { return absl::StrCat(id); }

const char* KindName(TokenKind k) { return k == TokenKind::kWorker ? "worker" : "user"; }

// Microseconds since the epoch as SQL's timestamptz input.
PgParam TimeParam(const std::optional<absl::Time>& t) {
  if (!t.has_value()) return std::nullopt;
  return absl::FormatTime("%Y-%m-%d %H:%M:%E6S+00", *t, absl::UTCTimeZone());
}

bool IsUniqueViolation(const absl::Status& s) {
  return absl::StrContains(s.message(), kUniqueViolation);
}

}  // namespace

absl::StatusOr<std::vector<UserRecord>> PgStore::ReadUsers(PgConnection& conn, const std::string& where,
                                                           const PgParam& param) {
  GWO_ASSIGN_OR_RETURN(
      PgResult r,
      conn.Exec(absl::StrCat("SELECT u.id, u.name, u.role, u.disabled, ", UsecOf("u.created_at"),
                             " AS created_us, coalesce((SELECT string_agg(m.project, ',' ORDER BY m.project) "
                             "FROM project_members m WHERE m.user_id = u.id), '') AS projects "
                             "FROM users u WHERE ",
                             where, " ORDER BY u.name"),
                {param}));
  std::vector<UserRecord> out(r.rows());
  for (int i = 0; i < r.rows(); ++i) {
    UserRecord& u = out[i];
    u.id = r.Int(i, "id");
    u.name = r.Text(i, "name");
    u.role = ParseRole(r.Text(i, "role")).value_or(Role::kViewer);
    u.disabled = r.Bool(i, "disabled");
    u.created_at = r.Time(i, "created_us");
    // Project names never contain ',' (the callers check them).
    for (absl::string_view p : absl::StrSplit(r.Text(i, "projects"), ',', absl::SkipEmpty())) {
      u.projects.emplace_back(p);
    }
  }
  return out;
}

absl::StatusOr<std::vector<TokenRecord>> PgStore::ReadTokens(PgConnection& conn, const std::string& where,
                                                             const PgParam& param) {
  GWO_ASSIGN_OR_RETURN(PgResult r,
                       conn.Exec(absl::StrCat("SELECT t.id, t.kind, t.name, t.lookup, t.salt, t.hash, t.created_by, "
                                              "coalesce(u.name, '') AS user_name, ",
                                              UsecOf("t.created_at"), " AS created_us, ", UsecOf("t.expires_at"),
                                              " AS expires_us, ", UsecOf("t.revoked_at"),
                                              " AS revoked_us FROM tokens t LEFT JOIN users u ON u.id = t.user_id "
                                              "WHERE ",
                                              where, " ORDER BY t.id DESC"),
                                 {param}));
  std::vector<TokenRecord> out(r.rows());
  for (int i = 0; i < r.rows(); ++i) {
    TokenRecord& t = out[i];
    t.id = r.Int(i, "id");
    t.kind = r.Text(i, "kind") == "worker" ? TokenKind::kWorker : TokenKind::kUser;
    t.name = r.Text(i, "name");
    t.lookup = r.Text(i, "lookup");
    t.salt_hex = r.Text(i, "salt");
    t.hash_hex = r.Text(i, "hash");
    t.created_by = r.Text(i, "created_by");
    t.created_at = r.Time(i, "created_us");
    t.expires_at = r.OptionalTime(i, "expires_us");
    t.revoked_at = r.OptionalTime(i, "revoked_us");
    if (t.kind == TokenKind::kUser) {
      GWO_ASSIGN_OR_RETURN(std::vector<UserRecord> users, ReadUsers(conn, "u.name = $1", r.Text(i, "user_name")));
      if (!users.empty()) t.user = std::move(users.front());
    }
  }
  return out;
}

absl::Status PgStore::InsertToken(PgConnection& conn, const NewToken& token) {
  return conn
      .Exec("INSERT INTO tokens (lookup, kind, user_id, name, salt, hash, created_by, expires_at) "
            "VALUES ($1, $2, (SELECT id FROM users WHERE name = $3), $4, $5, $6, $7, $8::timestamptz)",
            {token.lookup, KindName(token.kind), token.kind == TokenKind::kUser ? PgParam(token.user) : std::nullopt,
             SanitizeText(token.name), token.salt_hex, token.hash_hex, SanitizeText(token.created_by),
             TimeParam(token.expires_at)})
      .status();
}

absl::Status PgStore::Bootstrap(const std::string& admin, const std::vector<NewToken>& tokens) {
  return Run(Mode::kReadWrite, [&](PgConnection& conn) -> absl::Status {
    // One bootstrap at a time across coordinators sharing the database.
    GWO_RETURN_IF_ERROR(conn.Exec("LOCK TABLE users IN EXCLUSIVE MODE").status());
    GWO_ASSIGN_OR_RETURN(PgResult any, conn.Exec("SELECT 1 FROM users LIMIT 1"));
    if (any.rows() > 0) return absl::AlreadyExistsError("the database already has users");
    GWO_RETURN_IF_ERROR(conn.Exec("INSERT INTO users (name, role) VALUES ($1, 'admin')", {admin}).status());
    GWO_RETURN_IF_ERROR(conn.Exec("INSERT INTO projects (name) VALUES ('default') ON CONFLICT DO NOTHING").status());
    GWO_RETURN_IF_ERROR(conn.Exec("INSERT INTO project_members (project, user_id) "
                                  "SELECT 'default', id FROM users WHERE name = $1",
                                  {admin})
                            .status());
    for (const NewToken& t : tokens) GWO_RETURN_IF_ERROR(InsertToken(conn, t));
    return absl::OkStatus();
  });
}

absl::StatusOr<UserRecord> PgStore::CreateUser(const std::string& name, Role role) {
  UserRecord out;
  absl::Status s = Run(Mode::kReadWrite, [&](PgConnection& conn) -> absl::Status {
    GWO_RETURN_IF_ERROR(
        conn.Exec("INSERT INTO users (name, role) VALUES ($1, $2)", {SanitizeText(name), RoleName(role)}).status());
    GWO_ASSIGN_OR_RETURN(std::vector<UserRecord> users, ReadUsers(conn, "u.name = $1", SanitizeText(name)));
    out = users.at(0);
    return absl::OkStatus();
  });
  if (IsUniqueViolation(s)) return absl::AlreadyExistsError(absl::StrCat("a user named \"", name, "\" exists"));
  GWO_RETURN_IF_ERROR(s);
  return out;
}

absl::StatusOr<UserRecord> PgStore::GetUser(const std::string& name) {
  UserRecord out;
  GWO_RETURN_IF_ERROR(Run(Mode::kReadOnly, [&](PgConnection& conn) -> absl::Status {
    GWO_ASSIGN_OR_RETURN(std::vector<UserRecord> users, ReadUsers(conn, "u.name = $1", SanitizeText(name)));
    if (users.empty()) return absl::NotFoundError(absl::StrCat("no user named \"", name, "\""));
    out = std::move(users.front());
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<UserRecord>> PgStore::ListUsers() {
  std::vector<UserRecord> out;
  GWO_RETURN_IF_ERROR(Run(Mode::kReadOnly, [&](PgConnection& conn) -> absl::Status {
    GWO_ASSIGN_OR_RETURN(out, ReadUsers(conn, "$1::text IS NULL", std::nullopt));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<UserRecord> PgStore::UpdateUser(const std::string& name, std::optional<Role> role,
                                               std::optional<bool> disabled) {
  UserRecord out;
  GWO_RETURN_IF_ERROR(Run(Mode::kReadWrite, [&](PgConnection& conn) -> absl::Status {
    GWO_ASSIGN_OR_RETURN(PgResult r,
                         conn.Exec("UPDATE users SET role = coalesce($2, role), disabled = coalesce($3::bool, disabled) "
                                   "WHERE name = $1 RETURNING id",
                                   {SanitizeText(name), role.has_value() ? PgParam(RoleName(*role)) : std::nullopt,
                                    disabled.has_value() ? PgParam(*disabled ? "true" : "false") : std::nullopt}));
    if (r.rows() == 0) return absl::NotFoundError(absl::StrCat("no user named \"", name, "\""));
    GWO_ASSIGN_OR_RETURN(std::vector<UserRecord> users, ReadUsers(conn, "u.name = $1", SanitizeText(name)));
    out = users.at(0);
    return absl::OkStatus();
  }));
  return out;
}

absl::Status PgStore::CreateProject(const std::string& name) {
  absl::Status s = Run(Mode::kReadWrite, [&](PgConnection& conn) -> absl::Status {
    return conn.Exec("INSERT INTO projects (name) VALUES ($1)", {SanitizeText(name)}).status();
  });
  if (IsUniqueViolation(s)) return absl::AlreadyExistsError(absl::StrCat("a project named \"", name, "\" exists"));
  return s;
}

absl::StatusOr<std::vector<ProjectRecord>> PgStore::ListProjects() {
  std::vector<ProjectRecord> out;
  GWO_RETURN_IF_ERROR(Run(Mode::kReadOnly, [&](PgConnection& conn) -> absl::Status {
    GWO_ASSIGN_OR_RETURN(PgResult r,
                         conn.Exec(absl::StrCat("SELECT p.name, ", UsecOf("p.created_at"),
                                                " AS created_us, coalesce((SELECT string_agg(u.name, ',' ORDER BY "
                                                "u.name) FROM project_members m JOIN users u ON u.id = m.user_id "
                                                "WHERE m.project = p.name), '') AS members "
                                                "FROM projects p ORDER BY p.name")));
    out.assign(r.rows(), {});
    for (int i = 0; i < r.rows(); ++i) {
      out[i].name = r.Text(i, "name");
      out[i].created_at = r.Time(i, "created_us");
      for (absl::string_view m : absl::StrSplit(r.Text(i, "members"), ',', absl::SkipEmpty())) {
        out[i].members.emplace_back(m);
      }
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::Status PgStore::SetProjectMember(const std::string& project, const std::string& user, bool member) {
  return Run(Mode::kReadWrite, [&](PgConnection& conn) -> absl::Status {
    GWO_ASSIGN_OR_RETURN(PgResult p, conn.Exec("SELECT 1 FROM projects WHERE name = $1", {SanitizeText(project)}));
    if (p.rows() == 0) return absl::NotFoundError(absl::StrCat("no project named \"", project, "\""));
    GWO_ASSIGN_OR_RETURN(PgResult u, conn.Exec("SELECT id FROM users WHERE name = $1", {SanitizeText(user)}));
    if (u.rows() == 0) return absl::NotFoundError(absl::StrCat("no user named \"", user, "\""));
    const std::string user_id = u.Text(0, "id");
    if (member) {
      return conn
          .Exec("INSERT INTO project_members (project, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                {SanitizeText(project), user_id})
          .status();
    }
    return conn.Exec("DELETE FROM project_members WHERE project = $1 AND user_id = $2", {SanitizeText(project), user_id})
        .status();
  });
}

absl::StatusOr<TokenRecord> PgStore::CreateToken(const NewToken& token) {
  TokenRecord out;
  GWO_RETURN_IF_ERROR(Run(Mode::kReadWrite, [&](PgConnection& conn) -> absl::Status {
    if (token.kind == TokenKind::kUser) {
      GWO_ASSIGN_OR_RETURN(PgResult u, conn.Exec("SELECT 1 FROM users WHERE name = $1", {SanitizeText(token.user)}));
      if (u.rows() == 0) return absl::NotFoundError(absl::StrCat("no user named \"", token.user, "\""));
    }
    GWO_RETURN_IF_ERROR(InsertToken(conn, token));
    GWO_ASSIGN_OR_RETURN(std::vector<TokenRecord> found, ReadTokens(conn, "t.lookup = $1", token.lookup));
    out = found.at(0);
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<TokenRecord> PgStore::FindToken(const std::string& lookup) {
  TokenRecord out;
  GWO_RETURN_IF_ERROR(Run(Mode::kReadOnly, [&](PgConnection& conn) -> absl::Status {
    GWO_ASSIGN_OR_RETURN(std::vector<TokenRecord> found, ReadTokens(conn, "t.lookup = $1", SanitizeText(lookup)));
    if (found.empty()) return absl::NotFoundError("no such token");
    out = std::move(found.front());
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<TokenRecord>> PgStore::ListTokens(const std::string& user) {
  std::vector<TokenRecord> out;
  GWO_RETURN_IF_ERROR(Run(Mode::kReadOnly, [&](PgConnection& conn) -> absl::Status {
    GWO_ASSIGN_OR_RETURN(out, ReadTokens(conn, "$1::text IS NULL OR u.name = $1",
                                         user.empty() ? std::nullopt : PgParam(SanitizeText(user))));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<TokenRecord> PgStore::GetToken(int64_t id) {
  TokenRecord out;
  GWO_RETURN_IF_ERROR(Run(Mode::kReadOnly, [&](PgConnection& conn) -> absl::Status {
    GWO_ASSIGN_OR_RETURN(std::vector<TokenRecord> found, ReadTokens(conn, "t.id = $1", IdText(id)));
    if (found.empty()) return absl::NotFoundError(absl::StrCat("no token with id ", id));
    out = std::move(found.front());
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<TokenRecord> PgStore::RevokeToken(int64_t id) {
  TokenRecord out;
  GWO_RETURN_IF_ERROR(Run(Mode::kReadWrite, [&](PgConnection& conn) -> absl::Status {
    GWO_RETURN_IF_ERROR(
        conn.Exec("UPDATE tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1", {IdText(id)}).status());
    GWO_ASSIGN_OR_RETURN(std::vector<TokenRecord> found, ReadTokens(conn, "t.id = $1", IdText(id)));
    if (found.empty()) return absl::NotFoundError(absl::StrCat("no token with id ", id));
    out = std::move(found.front());
    return absl::OkStatus();
  }));
  return out;
}

absl::Status PgStore::AppendAudit(const AuditRecord& e) {
  return Run(Mode::kNoTransaction, [&](PgConnection& conn) -> absl::Status {
    return conn
        .Exec("INSERT INTO audit_log (actor, method, target, peer, outcome) VALUES ($1, $2, $3, $4, $5)",
              {SanitizeText(e.actor), SanitizeText(e.method), SanitizeText(e.target), SanitizeText(e.peer),
               SanitizeText(e.outcome)})
        .status();
  });
}

absl::StatusOr<std::vector<AuditRecord>> PgStore::ListAudit(int limit, int64_t before_id) {
  std::vector<AuditRecord> out;
  GWO_RETURN_IF_ERROR(Run(Mode::kReadOnly, [&](PgConnection& conn) -> absl::Status {
    GWO_ASSIGN_OR_RETURN(PgResult r,
                         conn.Exec(absl::StrCat("SELECT id, actor, method, target, peer, outcome, ", UsecOf("at"),
                                                " AS at_us FROM audit_log WHERE $1::int8 = 0 OR id < $1::int8 "
                                                "ORDER BY id DESC LIMIT $2::int8"),
                                   {IdText(before_id), IdText(limit)}));
    out.assign(r.rows(), {});
    for (int i = 0; i < r.rows(); ++i) {
      AuditRecord& a = out[i];
      a.id = r.Int(i, "id");
      a.at = r.Time(i, "at_us");
      a.actor = r.Text(i, "actor");
      a.method = r.Text(i, "method");
      a.target = r.Text(i, "target");
      a.peer = r.Text(i, "peer");
      a.outcome = r.Text(i, "outcome");
    }
    return absl::OkStatus();
  }));
  return out;
}

}  // namespace gwo::server
