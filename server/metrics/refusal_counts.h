// What one model refused at the gRPC edge, by method and reason (the
// refusal's status code): requests, and for Observe the samples in them.
// Read at scrape time as streamfit_model_requests_refused_total and
// streamfit_model_samples_refused_total. Counting a refusal is a relaxed
// atomic add; accepted work never touches the counts. Thread-safe.
#ifndef STREAMFIT_SERVER_METRICS_REFUSAL_COUNTS_H_
#define STREAMFIT_SERVER_METRICS_REFUSAL_COUNTS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace streamfit::metrics {

class RefusalCounts {
 public:
  enum class Method { kObserve, kObserveStream, kPredict };

  // Counts one refused request of `samples` samples (0 for Predict).
  // `status` is the refusal (an OK status is not counted).
  void Count(Method method, const absl::Status& status, uint64_t samples);

  struct Row {
    std::string method;  // "Observe", "ObserveStream", "Predict"
    std::string reason;  // "invalid_argument", "resource_exhausted", ...
    uint64_t requests = 0;
    uint64_t samples = 0;
  };
  // Every (method, reason) counted at least once.
  std::vector<Row> Read() const;

  // The reason label of a status code: its name in lower case.
  static std::string Reason(absl::StatusCode code);

 private:
  static constexpr int kMethods = 3;
  static constexpr int kCodes = 17;  // absl::StatusCode 0 to 16
  std::array<std::array<std::atomic<uint64_t>, kCodes>, kMethods> requests_{};
  std::array<std::array<std::atomic<uint64_t>, kCodes>, kMethods> samples_{};
};

}  // namespace streamfit::metrics

#endif  // STREAMFIT_SERVER_METRICS_REFUSAL_COUNTS_H_
