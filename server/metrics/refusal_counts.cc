#include "server/metrics/refusal_counts.h"

#include "absl/strings/ascii.h"

namespace streamfit::metrics {

void RefusalCounts::Count(Method method, const absl::Status& status,
                          uint64_t samples) {
  if (status.ok()) return;
  int code = static_cast<int>(status.code());
  if (code < 0 || code >= kCodes)
    code = static_cast<int>(absl::StatusCode::kUnknown);
  const int m = static_cast<int>(method);
  requests_[m][code].fetch_add(1, std::memory_order_relaxed);
  if (samples > 0) {
    samples_[m][code].fetch_add(samples, std::memory_order_relaxed);
  }
}

std::vector<RefusalCounts::Row> RefusalCounts::Read() const {
  static constexpr const char* kNames[kMethods] = {"Observe", "ObserveStream",
                                                   "Predict"};
  std::vector<Row> rows;
  for (int m = 0; m < kMethods; ++m) {
    for (int code = 0; code < kCodes; ++code) {
      const uint64_t requests =
          requests_[m][code].load(std::memory_order_relaxed);
      if (requests == 0) continue;
      rows.push_back({kNames[m], Reason(static_cast<absl::StatusCode>(code)),
                      requests,
                      samples_[m][code].load(std::memory_order_relaxed)});
    }
  }
  return rows;
}

std::string RefusalCounts::Reason(absl::StatusCode code) {
  return absl::AsciiStrToLower(absl::StatusCodeToString(code));
}

}  // namespace streamfit::metrics
