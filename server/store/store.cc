#include "server/store/store.h"

#include "server/store/pg_store.h"

namespace gwo::server {

const char* RunStateName(RunState s) {
  switch (s) {
    case RunState::kQueued:
      return "queued";
    case RunState::kRunning:
      return "running";
    case RunState::kSucceeded:
      return "succeeded";
    case RunState::kFailed:
      return "failed";
    case RunState::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

std::optional<RunState> ParseRunState(const std::string& s) {
  for (RunState state : {RunState::kQueued, RunState::kRunning, RunState::kSucceeded, RunState::kFailed,
                         RunState::kCancelled}) {
    if (s == RunStateName(state)) return state;
  }
  return std::nullopt;
}

const char* RoleName(Role r) {
  switch (r) {
    case Role::kViewer:
      return "viewer";
    case Role::kMember:
      return "member";
    case Role::kAdmin:
      return "admin";
  }
  return "unknown";
}

std::optional<Role> ParseRole(const std::string& s) {
  for (Role r : {Role::kViewer, Role::kMember, Role::kAdmin}) {
    if (s == RoleName(r)) return r;
  }
  return std::nullopt;
}

bool IsTerminal(RunState s) { return s != RunState::kQueued && s != RunState::kRunning; }

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& url, int pool_size) {
  absl::StatusOr<std::unique_ptr<PgPool>> pool = PgPool::Open(url, pool_size);
  if (!pool.ok()) return pool.status();
  return std::unique_ptr<Store>(new PgStore(std::move(pool).value()));
}

}  // namespace gwo::server
