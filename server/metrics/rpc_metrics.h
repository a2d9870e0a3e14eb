// Per-RPC metrics from a gRPC server interceptor:
//   streamfit_rpc_requests_total{service,method,code}   calls by final status
//   streamfit_rpc_duration_seconds{service,method}      latency histogram
// A call's latency runs from its interceptor's creation (the call arrived)
// to its status being sent. Calls the auth processor refuses never reach an
// interceptor and are not counted. Thread-safe.
#ifndef STREAMFIT_SERVER_METRICS_RPC_METRICS_H_
#define STREAMFIT_SERVER_METRICS_RPC_METRICS_H_

#include <grpcpp/support/server_interceptor.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace streamfit::metrics {

class RpcMetricsInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  // Adds the families to `registry`, which must outlive the factory.
  explicit RpcMetricsInterceptorFactory(prometheus::Registry& registry);

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& durations_;
};

}  // namespace streamfit::metrics

#endif  // STREAMFIT_SERVER_METRICS_RPC_METRICS_H_
