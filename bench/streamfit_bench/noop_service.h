// A no-op streamfit.v1.Learner service: the same RPCs and messages as the
// real server, but handlers that only count what gRPC parsed and drop it. It
// measures the transport ceiling that streamfit's figures are compared with.
#ifndef STREAMFIT_BENCH_STREAMFIT_BENCH_NOOP_SERVICE_H_
#define STREAMFIT_BENCH_STREAMFIT_BENCH_NOOP_SERVICE_H_

#include <atomic>
#include <cstdint>

#include "streamfit/v1/streamfit.grpc.pb.h"

namespace streamfit::bench {

// Every model name exists; its "version" is the number of samples received
// by the whole service, so a benchmark can wait for "applied" the same way on
// both servers. ObserveStream acks every request in order like the real
// service (reading on while fewer than 1024 acks wait). Predict answers 0
// for every input. Thread-safe.
class NoopLearnerService final : public v1::Learner::CallbackService {
 public:
  grpc::ServerUnaryReactor* CreateModel(grpc::CallbackServerContext* context,
                                        const v1::CreateModelRequest* request,
                                        v1::ModelInfo* response) override;
  grpc::ServerUnaryReactor* GetModel(grpc::CallbackServerContext* context,
                                     const v1::GetModelRequest* request,
                                     v1::ModelInfo* response) override;
  grpc::ServerReadReactor<v1::ObserveRequest>* Observe(
      grpc::CallbackServerContext* context,
      v1::ObserveResponse* response) override;
  grpc::ServerBidiReactor<v1::ObserveRequest, v1::ObserveAck>* ObserveStream(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* Predict(grpc::CallbackServerContext* context,
                                    const v1::PredictRequest* request,
                                    v1::PredictResponse* response) override;

  // Examples in one request, as the real service counts them.
  static uint64_t CountExamples(const v1::ObserveRequest& request);

 private:
  std::atomic<uint64_t> samples_{0};
};

}  // namespace streamfit::bench

#endif  // STREAMFIT_BENCH_STREAMFIT_BENCH_NOOP_SERVICE_H_
