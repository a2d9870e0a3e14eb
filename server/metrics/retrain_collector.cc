#include "server/metrics/retrain_collector.h"

#include <map>
#include <string>

#include "server/metrics/duration_histogram.h"

namespace streamfit::metrics {

std::vector<prometheus::MetricFamily> RetrainCollector::Collect() const {
  using prometheus::ClientMetric;
  using prometheus::MetricType;
  // Every state, so each series exists before its first job.
  std::map<std::string, std::pair<uint64_t, std::vector<double>>> by_state;
  for (int s = v1::RetrainState_MIN; s <= v1::RetrainState_MAX; ++s) {
    if (v1::RetrainState_IsValid(s)) {
      by_state[v1::RetrainState_Name(static_cast<v1::RetrainState>(s))];
    }
  }
  for (const v1::RetrainJob& job : jobs_->List()) {
    auto& [count, durations] = by_state[v1::RetrainState_Name(job.state())];
    ++count;
    if (job.finished_unix_ms() > 0) {
      durations.push_back((job.finished_unix_ms() - job.created_unix_ms()) /
                          1000.0);
    }
  }
  prometheus::MetricFamily jobs{
      "streamfit_retrain_jobs", "Retrain jobs by state", MetricType::Gauge, {}};
  prometheus::MetricFamily durations{
      "streamfit_retrain_job_duration_seconds",
      "Seconds from submission to end of the ended retrain jobs, by state",
      MetricType::Histogram,
      {}};
  for (const auto& [state, totals] : by_state) {
    ClientMetric count;
    count.label = {{"state", state}};
    count.gauge.value = static_cast<double>(totals.first);
    jobs.metric.push_back(std::move(count));
    ClientMetric histogram;
    histogram.label = {{"state", state}};
    histogram.histogram = DurationHistogram::Of(totals.second);
    durations.metric.push_back(std::move(histogram));
  }
  return {std::move(jobs), std::move(durations)};
}

}  // namespace streamfit::metrics
