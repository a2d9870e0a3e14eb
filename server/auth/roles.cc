#include "server/auth/roles.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace streamfit::auth {
namespace {

constexpr absl::string_view kLearnerPrefix = "/streamfit.v1.Learner/";
constexpr absl::string_view kInferencePrefix =
    "/inference.GRPCInferenceService/";

struct MethodRole {
  absl::string_view method;
  Role role;
};

// One method per line (clang-format would pack the table into columns).
// clang-format off
constexpr MethodRole kMethodRoles[] = {
    {"Predict", Role::kPredictor},
    {"GetModel", Role::kPredictor},
    {"ListModels", Role::kPredictor},
    {"Observe", Role::kObserver},
    {"ObserveStream", Role::kObserver},
    {"Snapshot", Role::kOperator},
    {"UploadDataset", Role::kOperator},
    {"ListDatasets", Role::kOperator},
    {"DeleteDataset", Role::kOperator},
    {"Retrain", Role::kOperator},
    {"GetRetrainJob", Role::kOperator},
    {"WatchRetrainJob", Role::kOperator},
    {"WatchModel", Role::kPredictor},
    {"CancelRetrainJob", Role::kOperator},
    {"ListRetrainJobs", Role::kOperator},
    {"MeasureBatchGap", Role::kOperator},
    {"AddChallenger", Role::kOperator},
    {"ListChallengers", Role::kPredictor},
    {"PromoteChallenger", Role::kOperator},
    {"RemoveChallenger", Role::kOperator},
    {"ListSnapshots", Role::kOperator},
    {"CreateModel", Role::kAdmin},
    {"DeleteModel", Role::kAdmin},
    {"Restore", Role::kAdmin},
    {"DeleteSnapshot", Role::kAdmin},
};
// clang-format on

// The Open Inference Protocol: liveness and readiness are open like health
// checking; the rest reads models.
constexpr MethodRole kInferenceRoles[] = {
    {"ModelReady", Role::kPredictor},
    {"ServerMetadata", Role::kPredictor},
    {"ModelMetadata", Role::kPredictor},
    {"ModelInfer", Role::kPredictor},
};

constexpr absl::string_view kOpenMethods[] = {
    "/inference.GRPCInferenceService/ServerLive",
    "/inference.GRPCInferenceService/ServerReady",
};

constexpr absl::string_view kOpenServices[] = {
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/grpc.reflection.v1.ServerReflection/",
};

}  // namespace

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kPredictor:
      return "predictor";
    case Role::kObserver:
      return "observer";
    case Role::kOperator:
      return "operator";
    case Role::kAdmin:
      return "admin";
  }
  return "admin";
}

absl::StatusOr<Role> ParseRole(absl::string_view name) {
  for (Role role :
       {Role::kPredictor, Role::kObserver, Role::kOperator, Role::kAdmin}) {
    if (name == RoleName(role)) return role;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown role '", name, "' (predictor, observer, operator or admin)"));
}

std::optional<Role> RequiredRole(absl::string_view method) {
  for (absl::string_view open : kOpenServices) {
    if (absl::StartsWith(method, open)) return std::nullopt;
  }
  for (absl::string_view open : kOpenMethods) {
    if (method == open) return std::nullopt;
  }
  if (absl::ConsumePrefix(&method, kLearnerPrefix)) {
    for (const MethodRole& entry : kMethodRoles) {
      if (method == entry.method) return entry.role;
    }
  } else if (absl::ConsumePrefix(&method, kInferencePrefix)) {
    for (const MethodRole& entry : kInferenceRoles) {
      if (method == entry.method) return entry.role;
    }
  }
  return Role::kAdmin;
}

}  // namespace streamfit::auth
