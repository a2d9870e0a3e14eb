#include "server/metrics/duration_histogram.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace streamfit::metrics {
namespace {

size_t BucketOf(const std::vector<double>& bounds, double seconds) {
  return std::lower_bound(bounds.begin(), bounds.end(), seconds) -
         bounds.begin();
}

}  // namespace

const std::vector<double>& DurationBuckets() {
  static const auto* buckets = new std::vector<double>{
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
      0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5,
      5,      10,      30,     60,    120,    300,   600};
  return *buckets;
}

DurationHistogram::DurationHistogram(const std::vector<double>& bounds)
    : bounds_(bounds),
      counts_(new std::atomic<uint64_t>[bounds.size() + 1]()) {}

void DurationHistogram::Observe(double seconds) {
  if (!(seconds >= 0)) seconds = 0;  // also NaN
  counts_[BucketOf(bounds_, seconds)].fetch_add(1, std::memory_order_relaxed);
  sum_nanos_.fetch_add(static_cast<uint64_t>(std::llround(seconds * 1e9)),
                       std::memory_order_relaxed);
}

prometheus::ClientMetric::Histogram DurationHistogram::Read() const {
  prometheus::ClientMetric::Histogram h;
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i].load(std::memory_order_relaxed);
    h.bucket.push_back(
        {cumulative, i < bounds_.size()
                         ? bounds_[i]
                         : std::numeric_limits<double>::infinity()});
  }
  h.sample_count = cumulative;
  h.sample_sum = sum_nanos_.load(std::memory_order_relaxed) / 1e9;
  return h;
}

prometheus::ClientMetric::Histogram DurationHistogram::Of(
    const std::vector<double>& values, const std::vector<double>& bounds) {
  DurationHistogram histogram(bounds);
  for (double v : values) histogram.Observe(v);
  return histogram.Read();
}

}  // namespace streamfit::metrics
