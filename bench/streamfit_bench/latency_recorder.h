// Collects latencies from many threads and summarizes them: percentiles and
// a log-scale text histogram.
#ifndef STREAMFIT_BENCH_STREAMFIT_BENCH_LATENCY_RECORDER_H_
#define STREAMFIT_BENCH_STREAMFIT_BENCH_LATENCY_RECORDER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace streamfit::bench {

struct LatencySummary {
  size_t count = 0;
  double p50_us = 0, p90_us = 0, p99_us = 0, p999_us = 0, max_us = 0;
  // Log-scale buckets: upper bound in microseconds, and count.
  std::vector<std::pair<double, size_t>> buckets;
};

// Thread-safe. Keeps every sample (8 bytes each), so a run of N calls holds
// 8 N bytes.
class LatencyRecorder {
 public:
  void Record(int64_t nanos) {
    absl::MutexLock lock(&mu_);
    samples_.push_back(nanos);
  }
  void Clear() {
    absl::MutexLock lock(&mu_);
    samples_.clear();
  }
  LatencySummary Summarize() const;

 private:
  mutable absl::Mutex mu_;
  std::vector<int64_t> samples_ ABSL_GUARDED_BY(mu_);
};

// "p50 .. p99.9" line plus one bar per non-empty bucket.
std::string FormatSummary(const LatencySummary& summary);
// "upper_us count" lines, for gnuplot.
std::string HistogramData(const LatencySummary& summary);

}  // namespace streamfit::bench

#endif  // STREAMFIT_BENCH_STREAMFIT_BENCH_LATENCY_RECORDER_H_
