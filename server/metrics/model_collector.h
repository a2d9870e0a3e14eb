// Per-model and retrain metrics, read from the live models at scrape time
// (nothing is pushed from the hot path):
//   streamfit_models                                  models served
//   streamfit_model_version{model}                    published version
//   streamfit_model_samples_applied_total{model}      samples in the
//                                                     published state
//   streamfit_model_samples_admitted_total{model}     samples accepted
//   streamfit_model_publish_lag_samples{model}        admitted - published
//   streamfit_learner_queue_samples{model}            queued, not yet taken
//   streamfit_learner_queue_capacity_samples{model}
//   streamfit_model_progressive_loss{model,window}    window: all | recent
//   streamfit_model_progressive_accuracy{model,window}  classifiers only
//   streamfit_model_nonfinite_updates_skipped_total{model}
//   streamfit_model_sample_log_bytes{model}           sample log on disk
//   streamfit_model_checkpoint_age_seconds{model}     since the last one
//   streamfit_model_recovery_seconds{model}           at start-up
//   streamfit_retrain_jobs{state}                     jobs by state
//   streamfit_retrain_job_duration_seconds{state}     sum over ended jobs
// Thread-safe; the registry (and jobs, if set) must outlive it.
#ifndef STREAMFIT_SERVER_METRICS_MODEL_COLLECTOR_H_
#define STREAMFIT_SERVER_METRICS_MODEL_COLLECTOR_H_

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <string>
#include <vector>

#include "server/model_registry.h"
#include "server/retrain_jobs.h"

namespace streamfit::metrics {

class ModelCollector final : public prometheus::Collectable {
 public:
  ModelCollector(const ModelRegistry* registry, const RetrainJobs* jobs)
      : registry_(registry), jobs_(jobs) {}

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const ModelRegistry* const registry_;
  const RetrainJobs* const jobs_;  // may be null
};

// Notes how long recovering `model` took (called by the model store); the
// collector reports the latest figure per model name. Thread-safe.
void RecordRecoverySeconds(const std::string& model, double seconds);

}  // namespace streamfit::metrics

#endif  // STREAMFIT_SERVER_METRICS_MODEL_COLLECTOR_H_
