#include "bench/streamfit_bench/latency_recorder.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace streamfit::bench {
namespace {

// Buckets grow by 2^(1/4) (about 19 %) from 1 µs.
constexpr double kGrowth = 1.189207115002721;

// Nearest-rank percentile, in microseconds.
double Percentile(const std::vector<int64_t>& sorted, double q) {
  const double rank = std::ceil(q * sorted.size());
  const size_t i = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return sorted[std::min(i, sorted.size() - 1)] / 1e3;
}

}  // namespace

LatencySummary LatencyRecorder::Summarize() const {
  std::vector<int64_t> sorted;
  {
    absl::MutexLock lock(&mu_);
    sorted = samples_;
  }
  std::sort(sorted.begin(), sorted.end());
  LatencySummary s;
  s.count = sorted.size();
  if (sorted.empty()) return s;
  s.p50_us = Percentile(sorted, 0.5);
  s.p90_us = Percentile(sorted, 0.9);
  s.p99_us = Percentile(sorted, 0.99);
  s.p999_us = Percentile(sorted, 0.999);
  s.max_us = sorted.back() / 1e3;
  double upper = 1;
  size_t i = 0;
  while (i < sorted.size()) {
    size_t n = 0;
    while (i < sorted.size() && sorted[i] / 1e3 <= upper) ++i, ++n;
    if (n > 0 || !s.buckets.empty()) s.buckets.emplace_back(upper, n);
    upper *= kGrowth;
  }
  return s;
}

std::string FormatSummary(const LatencySummary& s) {
  std::string out = absl::StrFormat(
      "  calls %zu  p50 %.1f us  p90 %.1f us  p99 %.1f us  p99.9 %.1f us  "
      "max %.1f us\n",
      s.count, s.p50_us, s.p90_us, s.p99_us, s.p999_us, s.max_us);
  size_t most = 1;
  for (const auto& [upper, n] : s.buckets) most = std::max(most, n);
  for (const auto& [upper, n] : s.buckets) {
    if (n * 1000 < s.count) continue;  // hide buckets under 0.1 %
    absl::StrAppend(&out, absl::StrFormat("  <= %9.1f us %8zu |%s\n", upper, n,
                                          std::string(n * 50 / most, '#')));
  }
  return out;
}

std::string HistogramData(const LatencySummary& s) {
  std::string out;
  for (const auto& [upper, n] : s.buckets) {
    absl::StrAppend(&out, absl::StrFormat("%.2f %.6f\n", upper,
                                          static_cast<double>(n) / s.count));
  }
  return out;
}

}  // namespace streamfit::bench
