#include "server/metrics/model_collector.h"

#include <filesystem>
#include <map>
#include <optional>
#include <system_error>

#include "absl/base/const_init.h"
#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "core/model/linear_model.h"

namespace streamfit::metrics {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

ABSL_CONST_INIT absl::Mutex recovery_mu(absl::kConstInit);
std::map<std::string, double>* recovery_seconds ABSL_GUARDED_BY(recovery_mu) =
    nullptr;

// Builds families in the order they are first used.
class Families {
 public:
  void Add(const char* name, const char* help, MetricType type,
           std::vector<ClientMetric::Label> labels, double value) {
    MetricFamily& family = Get(name, help, type);
    ClientMetric metric;
    metric.label = std::move(labels);
    if (type == MetricType::Counter) {
      metric.counter.value = value;
    } else {
      metric.gauge.value = value;
    }
    family.metric.push_back(std::move(metric));
  }
  void AddHistogram(const char* name, const char* help,
                    std::vector<ClientMetric::Label> labels,
                    ClientMetric::Histogram histogram) {
    ClientMetric metric;
    metric.label = std::move(labels);
    metric.histogram = std::move(histogram);
    Get(name, help, MetricType::Histogram).metric.push_back(std::move(metric));
  }
  // Declares a family that may stay empty (so a dashboard finds its name).
  MetricFamily& Get(const char* name, const char* help, MetricType type) {
    for (MetricFamily& family : families_) {
      if (family.name == name) return family;
    }
    families_.push_back({name, help, type, {}});
    return families_.back();
  }
  std::vector<MetricFamily> Take() { return std::move(families_); }

 private:
  std::vector<MetricFamily> families_;
};

uint64_t SampleLogBytes(const std::string& dir) {
  if (dir.empty()) return 0;
  uint64_t bytes = 0;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (absl::StartsWith(name, "ckpt-")) continue;  // checkpoints
    std::error_code size_ec;
    const uintmax_t size = it->file_size(size_ec);
    if (!size_ec) bytes += size;
  }
  return bytes;
}

// The model's refused requests by method and reason, and the samples in
// its refused Observe messages by reason.
void AddRefusals(const LiveModel& model, Families& f) {
  f.Get("streamfit_model_requests_refused_total",
        "Observe messages and Predict calls the model refused, by method and "
        "reason (status code)",
        MetricType::Counter);
  f.Get("streamfit_model_samples_refused_total",
        "Samples in the Observe messages the model refused, by reason "
        "(status code)",
        MetricType::Counter);
  std::map<std::string, uint64_t> samples;  // by reason
  for (const metrics::RefusalCounts::Row& row : model.refusals.Read()) {
    f.Add(
        "streamfit_model_requests_refused_total", "", MetricType::Counter,
        {{"model", model.name}, {"method", row.method}, {"reason", row.reason}},
        static_cast<double>(row.requests));
    if (row.method != "Predict") samples[row.reason] += row.samples;
  }
  for (const auto& [reason, n] : samples) {
    f.Add("streamfit_model_samples_refused_total", "", MetricType::Counter,
          {{"model", model.name}, {"reason", reason}}, static_cast<double>(n));
  }
}

// Kafka mode: the model's place in its topic.
void AddKafka(const kafka::Catalogue& catalogue, const std::string& model,
              Families& f) {
  const std::shared_ptr<kafka::ModelTopic> topic = catalogue.Topic(model);
  if (topic == nullptr) return;
  const v1::KafkaPosition position = topic->Position();
  const std::vector<ClientMetric::Label> labels = {{"model", model}};
  f.Add("streamfit_kafka_lag_records",
        "Records in the model's Kafka topic not yet applied by this replica",
        MetricType::Gauge, labels,
        static_cast<double>(position.end_offset() - position.next_offset()));
  f.Add("streamfit_kafka_lag_seconds",
        "While records wait: how long ago the last record applied was "
        "written (0 when caught up)",
        MetricType::Gauge, labels, position.lag_seconds());
  f.Add("streamfit_kafka_records_skipped_total",
        "Records of the model's topic skipped as invalid for the model",
        MetricType::Counter, labels,
        static_cast<double>(position.skipped_records()));
}

}  // namespace

void RecordRecoverySeconds(const std::string& model, double seconds) {
  absl::MutexLock lock(&recovery_mu);
  if (recovery_seconds == nullptr) {
    recovery_seconds = new std::map<std::string, double>();
  }
  (*recovery_seconds)[model] = seconds;
}

std::vector<MetricFamily> ModelCollector::Collect() const {
  Families f;
  const std::vector<std::shared_ptr<LiveModel>> models = registry_->List();
  f.Add("streamfit_models", "Models served", MetricType::Gauge, {},
        static_cast<double>(models.size()));
  std::map<std::string, double> recovery;
  {
    absl::MutexLock lock(&recovery_mu);
    if (recovery_seconds != nullptr) recovery = *recovery_seconds;
  }
  const absl::Time now = absl::Now();
  for (const std::shared_ptr<LiveModel>& model : models) {
    const std::vector<ClientMetric::Label> labels = {{"model", model->name}};
    const std::shared_ptr<const LinearModel> state = model->learner.Current();
    const uint64_t published = state->version();
    const uint64_t admitted = model->learner.AdmittedVersion();
    const MetricsSummary summary = state->metrics();
    f.Add("streamfit_model_version", "Version of the published model state",
          MetricType::Gauge, labels, static_cast<double>(published));
    f.Add("streamfit_model_samples_applied_total",
          "Samples learned by the published model state", MetricType::Counter,
          labels, static_cast<double>(published));
    f.Add("streamfit_model_samples_admitted_total",
          "Samples accepted into the learner's queue", MetricType::Counter,
          labels, static_cast<double>(admitted));
    f.Add("streamfit_model_publish_lag_samples",
          "Samples accepted but not yet in the published state",
          MetricType::Gauge, labels,
          static_cast<double>(admitted > published ? admitted - published : 0));
    f.Add("streamfit_model_publish_lag_seconds",
          "Age of the oldest accepted sample not yet in the published state "
          "(0 when caught up)",
          MetricType::Gauge, labels,
          absl::ToDoubleSeconds(model->learner.PublishLag(now)));
    AddRefusals(*model, f);
    f.Add("streamfit_learner_queue_samples",
          "Samples queued for the learner thread", MetricType::Gauge, labels,
          static_cast<double>(model->learner.QueuedSamples()));
    f.Add("streamfit_learner_queue_capacity_samples",
          "Samples the learner's queue holds before producers wait",
          MetricType::Gauge, labels,
          static_cast<double>(model->learner.options().queue_capacity));
    for (const auto& [window, loss] :
         {std::pair{"all", summary.progressive_loss},
          std::pair{"recent", summary.recent_loss}}) {
      f.Add("streamfit_model_progressive_loss",
            "Mean loss of predictions made before learning each sample",
            MetricType::Gauge, {{"model", model->name}, {"window", window}},
            loss);
    }
    f.Get("streamfit_model_progressive_accuracy",
          "Accuracy of predictions made before learning each sample "
          "(classifiers)",
          MetricType::Gauge);
    if (model->config.task != Task::kRegression) {
      for (const auto& [window, accuracy] :
           {std::pair{"all", summary.progressive_accuracy},
            std::pair{"recent", summary.recent_accuracy}}) {
        f.Add("streamfit_model_progressive_accuracy", "", MetricType::Gauge,
              {{"model", model->name}, {"window", window}}, accuracy);
      }
    }
    f.Add("streamfit_model_nonfinite_updates_skipped_total",
          "Updates skipped because they would have made a weight non-finite",
          MetricType::Counter, labels,
          static_cast<double>(summary.skipped_updates));
    f.Add("streamfit_model_drifts_detected_total",
          "Rises of the progressive loss found by the model's drift detector",
          MetricType::Counter, labels,
          static_cast<double>(summary.drifts_detected));
    f.Get("streamfit_model_batch_gap_loss",
          "The latest MeasureBatchGap: mean loss of the online model (fit: "
          "online) and of the batch optimum (fit: batch) on its window",
          MetricType::Gauge);
    f.Get("streamfit_model_batch_gap_ratio",
          "The latest MeasureBatchGap: online loss / batch optimum's loss",
          MetricType::Gauge);
    if (const std::optional<v1::BatchGap> gap = model->GetBatchGap()) {
      for (const auto& [fit, loss] : {std::pair{"online", gap->online_loss()},
                                      std::pair{"batch", gap->batch_loss()}}) {
        f.Add("streamfit_model_batch_gap_loss", "", MetricType::Gauge,
              {{"model", model->name}, {"fit", fit}}, loss);
      }
      f.Add("streamfit_model_batch_gap_ratio", "", MetricType::Gauge, labels,
            gap->ratio());
    }
    f.Get("streamfit_challenger_progressive_loss",
          "Mean progressive loss of a challenger (learner: challenger) and of "
          "the model (learner: model) over the samples they are compared on",
          MetricType::Gauge);
    f.Get("streamfit_challenger_confidence",
          "One-sided confidence that the challenger's loss over the promote "
          "window is lower than the model's",
          MetricType::Gauge);
    if (const auto slot = model->learner.CurrentSlot()) {
      const LinearModel& champion = *slot->champion;
      for (const ChallengerState& c : slot->challengers) {
        const ChallengerComparison compared =
            Compare(c.record, champion, c.model,
                    champion.config().policies.promote_window);
        for (const auto& [learner, loss] :
             {std::pair{"challenger", compared.challenger_loss},
              std::pair{"model", compared.champion_loss}}) {
          f.Add("streamfit_challenger_progressive_loss", "", MetricType::Gauge,
                {{"model", model->name},
                 {"challenger", c.record.name},
                 {"learner", learner}},
                loss);
        }
        f.Add("streamfit_challenger_confidence", "", MetricType::Gauge,
              {{"model", model->name}, {"challenger", c.record.name}},
              compared.confidence);
      }
    }
    f.Add("streamfit_model_sample_log_bytes",
          "Bytes of the model's sample log on disk", MetricType::Gauge, labels,
          static_cast<double>(SampleLogBytes(model->dir)));
    f.Get("streamfit_model_checkpoint_age_seconds",
          "Seconds since the model's last checkpoint", MetricType::Gauge);
    if (model->checkpoint_mu.TryLock()) {  // never wait behind a checkpoint
      const absl::Time at = model->checkpointed_at;
      model->checkpoint_mu.Unlock();
      f.Add("streamfit_model_checkpoint_age_seconds", "", MetricType::Gauge,
            labels, absl::ToDoubleSeconds(now - at));
    }
    f.AddHistogram("streamfit_model_checkpoint_duration_seconds",
                   "Seconds to write each checkpoint (encode, write, fsync, "
                   "rename)",
                   labels, model->checkpoint_durations.Read());
    f.Get("streamfit_model_recovery_seconds",
          "Seconds the model took to recover at start-up", MetricType::Gauge);
    if (const auto it = recovery.find(model->name); it != recovery.end()) {
      f.Add("streamfit_model_recovery_seconds", "", MetricType::Gauge, labels,
            it->second);
    }
    if (kafka_ != nullptr) AddKafka(*kafka_, model->name, f);
  }
  return f.Take();
}

}  // namespace streamfit::metrics
