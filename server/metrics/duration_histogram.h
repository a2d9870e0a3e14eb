// A histogram of durations in seconds with fixed bucket bounds, for series
// that a collector reads at scrape time. Observe is a few relaxed atomic
// adds (no lock), so it may sit on a path that must not wait.
// Thread-safe.
#ifndef STREAMFIT_SERVER_METRICS_DURATION_HISTOGRAM_H_
#define STREAMFIT_SERVER_METRICS_DURATION_HISTOGRAM_H_

#include <prometheus/client_metric.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace streamfit::metrics {

// Bucket upper bounds for durations from 100 µs to 10 minutes.
const std::vector<double>& DurationBuckets();

class DurationHistogram {
 public:
  // `bounds`: ascending upper bounds (a +Inf bucket is added).
  explicit DurationHistogram(
      const std::vector<double>& bounds = DurationBuckets());

  void Observe(double seconds);
  // Cumulative buckets, count and sum, as the text format wants them.
  prometheus::ClientMetric::Histogram Read() const;

  // The histogram of `values` (e.g. the durations of the jobs in a list).
  static prometheus::ClientMetric::Histogram Of(
      const std::vector<double>& values,
      const std::vector<double>& bounds = DurationBuckets());

 private:
  const std::vector<double> bounds_;
  // Per bucket (not cumulative), the last one past every bound.
  const std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<uint64_t> sum_nanos_{0};
};

}  // namespace streamfit::metrics

#endif  // STREAMFIT_SERVER_METRICS_DURATION_HISTOGRAM_H_
