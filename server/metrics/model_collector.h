// Per-model metrics, read from the live models at scrape time (the hot
// path only bumps atomics: refusals, checkpoint durations):
//   streamfit_models                                  models served
//   streamfit_model_version{model}                    published version
//   streamfit_model_samples_applied_total{model}      samples in the
//                                                     published state
//   streamfit_model_samples_admitted_total{model}     samples accepted
//   streamfit_model_publish_lag_samples{model}        admitted - published
//   streamfit_model_publish_lag_seconds{model}        age of the oldest
//                                                     admitted, unpublished
//                                                     sample (0: caught up)
//   streamfit_model_requests_refused_total{model,method,reason}
//                                                     Observe messages and
//                                                     Predicts refused; reason
//                                                     is the status code in
//                                                     lower case
//   streamfit_model_samples_refused_total{model,reason}  samples in them
//   streamfit_learner_queue_samples{model}            queued, not yet taken
//   streamfit_learner_queue_capacity_samples{model}
//   streamfit_model_progressive_loss{model,window}    window: all | recent
//   streamfit_model_progressive_accuracy{model,window}  classifiers only
//   streamfit_model_nonfinite_updates_skipped_total{model}
//   streamfit_model_drifts_detected_total{model}
//   streamfit_model_batch_gap_loss{model,fit}         fit: online | batch,
//                                                     the latest
//                                                     MeasureBatchGap
//   streamfit_model_batch_gap_ratio{model}            online / batch
//   streamfit_model_sample_log_bytes{model}           sample log on disk
//   streamfit_model_checkpoint_age_seconds{model}     since the last one
//   streamfit_model_checkpoint_duration_seconds{model}  histogram of the
//                                                     checkpoints written
//   streamfit_model_recovery_seconds{model}           at start-up
// and in Kafka mode (KafkaPosition in ModelInfo):
//   streamfit_kafka_lag_records{model}                in the topic, not yet
//                                                     applied here
//   streamfit_kafka_lag_seconds{model}
//   streamfit_kafka_records_skipped_total{model}      not valid for the model
// Refusal counts and checkpoint durations live with the model, so they
// start from zero when a model is created or restored (a new incarnation:
// a counter reset). Thread-safe; the registry must outlive
// it.
#ifndef STREAMFIT_SERVER_METRICS_MODEL_COLLECTOR_H_
#define STREAMFIT_SERVER_METRICS_MODEL_COLLECTOR_H_

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <string>
#include <vector>

#include "server/kafka/catalogue.h"
#include "server/model_registry.h"

namespace streamfit::metrics {

class ModelCollector final : public prometheus::Collectable {
 public:
  // `kafka` (Kafka mode only) outlives the collector too.
  explicit ModelCollector(const ModelRegistry* registry,
                          const kafka::Catalogue* kafka = nullptr)
      : registry_(registry), kafka_(kafka) {}

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const ModelRegistry* const registry_;
  const kafka::Catalogue* const kafka_;
};

// Notes how long recovering `model` took (called by the model store); the
// collector reports the latest figure per model name. Thread-safe.
void RecordRecoverySeconds(const std::string& model, double seconds);

}  // namespace streamfit::metrics

#endif  // STREAMFIT_SERVER_METRICS_MODEL_COLLECTOR_H_
