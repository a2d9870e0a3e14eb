#include "server/auth/caller.h"

#include <grpcpp/security/auth_context.h>

namespace streamfit::auth {
namespace {

std::string Property(const grpc::AuthContext& context, const char* name) {
  const std::vector<grpc::string_ref> values = context.FindPropertyValues(name);
  if (values.empty()) return "";
  return std::string(values.front().data(), values.front().size());
}

}  // namespace

Caller CallerOf(const grpc::ServerContextBase& context) {
  Caller caller;
  caller.peer = context.peer();
  const std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth != nullptr) {
    caller.name = Property(*auth, kPrincipalProperty);
    caller.role = Property(*auth, kRoleProperty);
  }
  if (caller.role.empty()) caller.role = "none";
  return caller;
}

}  // namespace streamfit::auth
