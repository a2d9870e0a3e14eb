// Small helpers for absl::Status plumbing (Debian's Abseil 20220623 has no
// status_macros.h).
#ifndef STREAMFIT_CORE_STATUS_MACROS_H_
#define STREAMFIT_CORE_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define STREAMFIT_CONCAT_INNER(a, b) a##b
#define STREAMFIT_CONCAT(a, b) STREAMFIT_CONCAT_INNER(a, b)

// Returns from the enclosing function if `expr` yields a non-OK status.
#define RETURN_IF_ERROR(expr)                                         \
  do {                                                                \
    if (absl::Status _status = (expr); !_status.ok()) return _status; \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, StatusOrExpr())` assigns the value or returns the
// error.
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(STREAMFIT_CONCAT(_statusor_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL(statusor, lhs, expr) \
  auto statusor = (expr);                          \
  if (!statusor.ok()) return statusor.status();    \
  lhs = *std::move(statusor)

#endif  // STREAMFIT_CORE_STATUS_MACROS_H_
