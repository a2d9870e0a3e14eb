// Who made a call, for logs and metrics: the principal the auth processor
// put into the call's AuthContext. Stateless.
#ifndef STREAMFIT_SERVER_AUTH_CALLER_H_
#define STREAMFIT_SERVER_AUTH_CALLER_H_

#include <grpcpp/server_context.h>

#include <string>

namespace streamfit::auth {

// AuthContext properties set by AuthProcessor.
inline constexpr char kRoleProperty[] = "streamfit_role";
inline constexpr char kPrincipalProperty[] = "streamfit_principal";

struct Caller {
  std::string peer;  // gRPC's peer address, "ipv4:127.0.0.1:5555"
  std::string name;  // the credential's configured name; "" if none
  std::string role;  // "admin" etc.; "none" when the server checks no
                     // credentials (loopback, or --allow_insecure_remote)
};

Caller CallerOf(const grpc::ServerContextBase& context);

}  // namespace streamfit::auth

#endif  // STREAMFIT_SERVER_AUTH_CALLER_H_
