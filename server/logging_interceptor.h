// Logs each admin action - model create, delete and restore, dataset upload
// and delete, retrain start and cancel - as one structured line when its
// call ends: the event, the outcome (gRPC code), the model, dataset or job,
// the version, and the caller's peer, principal name and role. Calls of
// other methods are not intercepted. Thread-safe (one interceptor per call).
#ifndef STREAMFIT_SERVER_LOGGING_INTERCEPTOR_H_
#define STREAMFIT_SERVER_LOGGING_INTERCEPTOR_H_

#include <grpcpp/support/server_interceptor.h>

namespace streamfit {

class AuditLogInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;
};

}  // namespace streamfit

#endif  // STREAMFIT_SERVER_LOGGING_INTERCEPTOR_H_
