// Load generators for streamfit-bench: each drives one kind of traffic at a
// server address and measures it. They use only the v1 protocol, so they run
// the same against streamfit and against the no-op service.
#ifndef STREAMFIT_BENCH_STREAMFIT_BENCH_LOAD_H_
#define STREAMFIT_BENCH_STREAMFIT_BENCH_LOAD_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <string>

#include "bench/streamfit_bench/latency_recorder.h"
#include "streamfit/v1/streamfit.pb.h"

namespace streamfit::bench {

// How sparse features travel: Features.indices (namespace ""), named
// (Features.named, in namespaces "a" and "b", half each), or those named
// features hashed by the client (Features.hashes, client/hashed_features.h).
enum class SparseForm { kIndices, kNamed, kHashed };

struct ObserveLoad {
  std::string model = "bench";
  uint32_t features = 10;  // dense features per example
  uint32_t sparse = 0;     // hashed features per example instead, if > 0
  SparseForm sparse_form = SparseForm::kIndices;
  int batch = 64;             // examples per message (DenseBatch if dense)
  int64_t messages = 20000;   // per connection; ignored when duration_s > 0
  double duration_s = 0;      // run for this long instead
  int connections = 1;        // channels, one stream (or caller) each
  int messages_per_call = 1;  // observe-unary: messages per Observe call
  // observe-stream: samples per second per connection, paced evenly; 0 for
  // flat out.
  double rate = 0;
};

struct ObserveResult {
  uint64_t samples = 0;        // acked (stream) or accepted (unary)
  double acked_seconds = 0;    // until the last ack / response
  double applied_seconds = 0;  // until the model's version covered them all
  std::string error;           // empty if every call succeeded
  double SamplesPerSecond() const {
    return applied_seconds > 0 ? samples / applied_seconds : 0;
  }
};

// ObserveStream on `connections` channels, writing with buffer hints and
// counting acks on a second thread. `stop` (optional) ends a duration run
// early.
ObserveResult RunObserveStream(const std::string& address,
                               const ObserveLoad& load,
                               const std::atomic<bool>* stop = nullptr);

// Observe calls (client streams of messages_per_call messages each), one
// caller per connection, each waiting for its reply before the next.
ObserveResult RunObserveUnary(const std::string& address,
                              const ObserveLoad& load);

struct PredictLoad {
  std::string model = "bench";
  uint32_t features = 10;
  uint32_t sparse = 0;  // as ObserveLoad::sparse
  int inputs = 1;       // examples per call
  double qps = 0;       // open loop at this rate; 0: closed loop
  int concurrency = 1;  // closed loop: calls in flight
  double duration_s = 5;
};

struct PredictResult {
  LatencySummary latency;  // open loop: from each call's scheduled start
  double calls_per_second = 0;
  uint64_t errors = 0;
  std::string first_error;
};

PredictResult RunPredict(const std::string& address, const PredictLoad& load);

// Creates `model` (regression with `features` dense features, or none if
// `sparse` > 0: hashed features only, 2^18 slots, with the interactions of
// namespaces a and b if `quadratic`; serving `serving`) unless it exists;
// waits for the server to answer. False with a message on failure.
bool PrepareModel(const std::string& address, const std::string& model,
                  uint32_t features, uint32_t sparse, std::string* error,
                  v1::Serving serving = v1::SERVING_UNSPECIFIED,
                  bool quadratic = false);
// Adds `n` challengers to `model` (made by PrepareModel), the update rules
// adagrad, ftrl, adam and sgd in turn. False with a message on failure.
bool AddChallengers(const std::string& address, const std::string& model,
                    uint32_t features, uint32_t sparse, int n,
                    std::string* error);

}  // namespace streamfit::bench

#endif  // STREAMFIT_BENCH_STREAMFIT_BENCH_LOAD_H_
