// Minimal process logging to stderr: "2026-11-22T08:00:00.123Z I coordinator: message".
// (Debian 12's Abseil predates absl/log.)
#ifndef GWO_COMMON_LOG_H_
#define GWO_COMMON_LOG_H_

#include <string>

#include "absl/strings/string_view.h"

namespace gwo {

// Sets the component name printed on every line (e.g. "coordinator").
void SetLogComponent(const std::string& name);
void LogInfo(absl::string_view message);
void LogWarning(absl::string_view message);
void LogError(absl::string_view message);

}  // namespace gwo

#endif  // GWO_COMMON_LOG_H_
