// Early-return helpers for absl::Status / absl::StatusOr.
#ifndef GWO_COMMON_STATUS_MACROS_H_
#define GWO_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define GWO_CONCAT_INNER_(a, b) a##b
#define GWO_CONCAT_(a, b) GWO_CONCAT_INNER_(a, b)

// Returns the status from the enclosing function when `expr` is not OK.
#define GWO_RETURN_IF_ERROR(expr)                  \
  do {                                             \
    const ::absl::Status gwo_status_ = (expr);     \
    if (!gwo_status_.ok()) return gwo_status_;     \
  } while (0)

// `GWO_ASSIGN_OR_RETURN(auto x, F());` declares x from a StatusOr or returns its error.
#define GWO_ASSIGN_OR_RETURN(lhs, expr) \
  GWO_ASSIGN_OR_RETURN_IMPL_(GWO_CONCAT_(gwo_statusor_, __LINE__), lhs, expr)
#define GWO_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) return tmp.status();              \
  lhs = std::move(tmp).value()

#endif  // GWO_COMMON_STATUS_MACROS_H_
