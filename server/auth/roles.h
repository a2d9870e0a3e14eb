// Roles of the callers of the Learner service, and the least role each RPC
// needs. Each role includes the ones before it:
//   predictor  Predict, GetModel, ListModels
//   observer   + Observe, ObserveStream
//   operator   + datasets, retrain jobs, Snapshot
//   admin      + CreateModel, DeleteModel, Restore (and any other method)
// The Open Inference Protocol's ModelReady, ServerMetadata, ModelMetadata
// and ModelInfer need predictor. Health checking, reflection and the
// inference ServerLive and ServerReady are open to every caller. Stateless.
#ifndef STREAMFIT_SERVER_AUTH_ROLES_H_
#define STREAMFIT_SERVER_AUTH_ROLES_H_

#include <optional>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace streamfit::auth {

enum class Role { kPredictor = 1, kObserver = 2, kOperator = 3, kAdmin = 4 };

// "predictor", "observer", "operator", "admin".
absl::string_view RoleName(Role role);
// The inverse of RoleName; INVALID_ARGUMENT for anything else.
absl::StatusOr<Role> ParseRole(absl::string_view name);

// The least role that may call `method`, a full gRPC method path
// ("/streamfit.v1.Learner/Predict"); nullopt for open methods (health
// checking, reflection). An unknown method needs admin.
std::optional<Role> RequiredRole(absl::string_view method);

// Whether `role` includes `required`.
inline bool Includes(Role role, Role required) {
  return static_cast<int>(role) >= static_cast<int>(required);
}

}  // namespace streamfit::auth

#endif  // STREAMFIT_SERVER_AUTH_ROLES_H_
