// Retrain job metrics, read from the job table at scrape time:
//   streamfit_retrain_jobs{state}                     jobs by state
//   streamfit_retrain_job_duration_seconds{state}     histogram of the ended
//                                                     jobs' submission-to-end
//                                                     times
// Both cover the jobs the table holds (those of this run and those recovered
// from their records). Thread-safe; the jobs must outlive it.
#ifndef STREAMFIT_SERVER_METRICS_RETRAIN_COLLECTOR_H_
#define STREAMFIT_SERVER_METRICS_RETRAIN_COLLECTOR_H_

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <vector>

#include "server/retrain_jobs.h"

namespace streamfit::metrics {

class RetrainCollector final : public prometheus::Collectable {
 public:
  explicit RetrainCollector(const RetrainJobs* jobs) : jobs_(jobs) {}

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const RetrainJobs* const jobs_;
};

}  // namespace streamfit::metrics

#endif  // STREAMFIT_SERVER_METRICS_RETRAIN_COLLECTOR_H_
