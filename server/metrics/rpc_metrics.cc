#include "server/metrics/rpc_metrics.h"

#include <chrono>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace streamfit::metrics {
namespace {

using grpc::experimental::InterceptionHookPoints;

// "/streamfit.v1.Learner/Predict" -> ("streamfit.v1.Learner", "Predict").
std::pair<std::string, std::string> SplitMethod(absl::string_view path) {
  if (!path.empty() && path[0] == '/') path.remove_prefix(1);
  const size_t slash = path.find('/');
  if (slash == absl::string_view::npos) return {"", std::string(path)};
  return {std::string(path.substr(0, slash)),
          std::string(path.substr(slash + 1))};
}

const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
      0.1,    0.25,    0.5,    1,     2.5,    5,     10,   30};
  return *buckets;
}

class RpcMetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  RpcMetricsInterceptor(grpc::experimental::ServerRpcInfo* info,
                        prometheus::Family<prometheus::Counter>& requests,
                        prometheus::Family<prometheus::Histogram>& durations)
      : info_(info),
        requests_(requests),
        durations_(durations),
        start_(std::chrono::steady_clock::now()) {}

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_STATUS)) {
      const double seconds = std::chrono::duration<double>(
                                 std::chrono::steady_clock::now() - start_)
                                 .count();
      const auto [service, method] = SplitMethod(info_->method());
      const std::string code = absl::StatusCodeToString(
          static_cast<absl::StatusCode>(methods->GetSendStatus().error_code()));
      requests_.Add({{"service", service}, {"method", method}, {"code", code}})
          .Increment();
      durations_
          .Add({{"service", service}, {"method", method}}, LatencyBuckets())
          .Observe(seconds);
    }
    methods->Proceed();
  }

 private:
  grpc::experimental::ServerRpcInfo* const info_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& durations_;
  const std::chrono::steady_clock::time_point start_;
};

}  // namespace

RpcMetricsInterceptorFactory::RpcMetricsInterceptorFactory(
    prometheus::Registry& registry)
    : requests_(prometheus::BuildCounter()
                    .Name("streamfit_rpc_requests_total")
                    .Help("gRPC calls handled, by method and final status "
                          "code")
                    .Register(registry)),
      durations_(prometheus::BuildHistogram()
                     .Name("streamfit_rpc_duration_seconds")
                     .Help("Time from a gRPC call's arrival to its status")
                     .Register(registry)) {}

grpc::experimental::Interceptor*
RpcMetricsInterceptorFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  return new RpcMetricsInterceptor(info, requests_, durations_);
}

}  // namespace streamfit::metrics
