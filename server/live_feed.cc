#include "server/live_feed.h"

namespace gwo::server {

uint64_t LiveFeed::Watch(int64_t run_id, Waker waker) {
  absl::MutexLock lock(&mu_);
  const uint64_t token = next_token_++;
  entries_[token] = Entry{run_id, std::move(waker)};
  by_run_.emplace(run_id, token);
  return token;
}

void LiveFeed::Unwatch(uint64_t token) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(token);
  if (it == entries_.end()) return;
  auto [lo, hi] = by_run_.equal_range(it->second.run_id);
  for (auto r = lo; r != hi; ++r) {
    if (r->second == token) {
      by_run_.erase(r);
      break;
    }
  }
  entries_.erase(it);
}

void LiveFeed::Notify(int64_t run_id) {
  // Wakers run under the lock, so Unwatch cannot return while one runs; they are
  // required to be quick and not to call back into the feed.
  absl::MutexLock lock(&mu_);
  auto [lo, hi] = by_run_.equal_range(run_id);
  for (auto r = lo; r != hi; ++r) entries_[r->second].waker();
}

int LiveFeed::watchers() {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(entries_.size());
}

}  // namespace gwo::server
