// The health endpoint of a server that is still recovering its models.
#ifndef STREAMFIT_SERVER_RECOVERY_HEALTH_H_
#define STREAMFIT_SERVER_RECOVERY_HEALTH_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace streamfit {

// A gRPC server on the service's address that answers only grpc.health.v1:
// NOT_SERVING for "" and `learner_service` (Check and Watch), NOT_FOUND
// (Watch: SERVICE_UNKNOWN) for any other name; every other method gets
// UNAVAILABLE (retried by clients). StreamfitServer runs it while it recovers
// its models, so probes and load balancers see a live port that is not ready,
// then destroys it and binds the full server to the same port.
//
// Its own health service replaces gRPC's default one, which would answer
// SERVING for "" from the moment the port is bound until it was told
// otherwise. Thread-safe; the destructor cancels open Watch calls and
// returns once the port is closed.
class RecoveryHealthServer {
 public:
  // Binds `address` (port 0 picks one; read it back with port()) with
  // `credentials`; UNAVAILABLE if it cannot be bound.
  static absl::StatusOr<std::unique_ptr<RecoveryHealthServer>> Start(
      const std::string& address,
      std::shared_ptr<grpc::ServerCredentials> credentials,
      const std::string& learner_service);
  ~RecoveryHealthServer();

  int port() const { return port_; }

 private:
  class Service;
  class Refuser;
  RecoveryHealthServer() = default;

  std::unique_ptr<Service> service_;
  std::unique_ptr<Refuser> refuser_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace streamfit

#endif  // STREAMFIT_SERVER_RECOVERY_HEALTH_H_
