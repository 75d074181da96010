#include "common/log.h"

#include <cstdio>
#include <mutex>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace gwo {
namespace {

std::mutex& LogMutex() {
  static auto* mu = new std::mutex;
  return *mu;
}

std::string& Component() {
  static auto* name = new std::string("gwo");
  return *name;
}

void Write(char level, absl::string_view message) {
  std::string when = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  std::lock_guard<std::mutex> lock(LogMutex());
  std::fprintf(stderr, "%s %c %s: %.*s\n", when.c_str(), level, Component().c_str(),
               static_cast<int>(message.size()), message.data());
  std::fflush(stderr);
}

}  // namespace

void SetLogComponent(const std::string& name) {
  std::lock_guard<std::mutex> lock(LogMutex());
  Component() = name;
}
void LogInfo(absl::string_view message) { Write('I', message); }
void LogWarning(absl::string_view message) { Write('W', message); }
void LogError(absl::string_view message) { Write('E', message); }

}  // namespace gwo
