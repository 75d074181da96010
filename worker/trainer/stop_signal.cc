#include "worker/trainer/stop_signal.h"

#include <signal.h>

namespace gwo::trainer {
namespace {

// Lock-free, so setting it is async-signal-safe.
std::atomic<bool> stop_requested{false};
static_assert(std::atomic<bool>::is_always_lock_free);

extern "C" void OnStopSignal(int) { stop_requested.store(true, std::memory_order_relaxed); }

}  // namespace

const std::atomic<bool>& InstallStopHandlers() {
  struct sigaction action = {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return stop_requested;
}

}  // namespace gwo::trainer
