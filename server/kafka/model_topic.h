// One model in Kafka mode: its topic is its sample log. A thread reads the
// topic in offset order and hands each record's samples to the model's
// learner, its only input; Observe writes records to the topic and is
// answered once this replica has applied them.
#ifndef STREAMFIT_SERVER_KAFKA_MODEL_TOPIC_H_
#define STREAMFIT_SERVER_KAFKA_MODEL_TOPIC_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/learner.h"
#include "core/storage/file_system.h"
#include "server/kafka/kafka_client.h"
#include "server/kafka/record_parts.h"
#include "server/model_registry.h"
#include "streamfit/v1/streamfit.pb.h"

namespace streamfit::kafka {

// When a model's state is checkpointed (with its TopicPosition) in its
// directory: every `every_samples` learned, or `interval` after the last
// checkpoint if it learned any.
struct CheckpointPolicy {
  uint64_t every_samples = 1'000'000;
  absl::Duration interval = absl::Seconds(60);
  FileSystem* file_system = DefaultFileSystem();
};

// A model's checkpoint directory holds snapshots carrying their
// TopicPosition. The newest that decodes, or NOT_FOUND if there is none.
struct TopicCheckpoint {
  LinearModel model;
  TopicPosition position;
};
absl::StatusOr<TopicCheckpoint> LoadTopicCheckpoint(const std::string& dir,
                                                    FileSystem* fs);

// Where a retrain job starts: the version of the published state it
// compares its fit with, and that state's position in the topic.
struct RetrainCutoff {
  uint64_t version = 0;
  TopicPosition position;
};

// Records are applied in offset order, each exactly once: a record that is
// neither an `observe` nor an `adopt_retrain` LogRecord valid for the model
// (wrong shape, another model's name or incarnation, not a LogRecord at
// all) is skipped, counted and logged with its offset; the model's version
// counts applied samples as always, so every replica reaching a version
// holds the same state. An adopt_retrain record replaces the model, at its
// version, by the fit continued with the samples after the cutoff, which
// are read again from the topic. Thread-safe.
class ModelTopic : public std::enable_shared_from_this<ModelTopic> {
 public:
  // Starts reading `topic` at `position` into `model` (whose state is at a
  // version >= position.record_version). `producer` outlives the topic.
  // `incarnation`: the model's, as in LogRecord.model_incarnation.
  static absl::StatusOr<std::shared_ptr<ModelTopic>> Start(
      const ClientOptions& options, Producer* producer,
      std::shared_ptr<LiveModel> model, int64_t incarnation, std::string topic,
      TopicPosition position, std::string checkpoint_dir,
      CheckpointPolicy checkpoints);
  ~ModelTopic();  // Stop()

  // Observe: writes `request` to the topic. `on_admitted` runs once the
  // record is queued for Kafka; `on_queued` once this replica has applied
  // it, with the version after its last sample, or with UNAVAILABLE if
  // Kafka did not take it (then it is not applied anywhere),
  // RESOURCE_EXHAUSTED if it is over ClientOptions::max_message_bytes, or
  // ABORTED if the model stopped first. The request must be valid for the
  // model.
  void Submit(const v1::ObserveRequest& request,
              Learner::QueuedCallback on_queued,
              Learner::AdmittedCallback on_admitted);

  // Retrain: where a job starting now begins.
  RetrainCutoff Cutoff() const ABSL_LOCKS_EXCLUDED(mu_);
  // Writes `fitted` (a fit from `cutoff` by the job `swap` names) to the
  // topic and waits until this replica adopted it, as every replica does at
  // that record, recording it in the model's lineage: the version it took
  // effect at, or why it was not adopted.
  absl::StatusOr<uint64_t> PublishRetrain(const SwapRecord& swap,
                                          const LinearModel& fitted,
                                          const RetrainCutoff& cutoff);

  // The snapshot of `state` (a published state of this model) with the
  // position in the topic where learning continues from it, the same on
  // every replica.
  void Describe(const LinearModel& state, v1::ModelSnapshot* snapshot) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // This replica's place in the topic (ModelInfo.kafka).
  v1::KafkaPosition Position() const;

  // Writes a checkpoint of the published state if one is due (or `force`
  // and the version moved since the last one), then keeps the newest two.
  absl::Status Checkpoint(bool force);

  // Stops reading; pending Observe answers get ABORTED. The learner is
  // the model's (the registry stops it). Idempotent.
  void Stop();

  const std::string& topic() const { return topic_; }
  int64_t incarnation() const { return incarnation_; }
  const std::string& checkpoint_dir() const { return checkpoint_dir_; }

 private:
  // One record read: where its samples start and end in versions (equal
  // when it was skipped or held none), whether it was applied, and the
  // first part of the oldest record still incomplete after it, if any.
  struct Read {
    int64_t offset;
    uint64_t start, end;
    absl::Status status;
    std::optional<TopicPosition> pending;
  };

  ModelTopic(const ClientOptions& options, Producer* producer,
             std::shared_ptr<LiveModel> model, int64_t incarnation,
             std::string topic, TopicPosition position,
             std::string checkpoint_dir, CheckpointPolicy checkpoints);
  void Run(std::unique_ptr<PartitionReader> reader);
  // Reading thread: applies one record; false if the learner stopped.
  bool Apply(const Record& record);
  // Reading thread: hands `batch`, whose first sample is stream version
  // `start`, to the learner, but for the samples it learned already; false
  // if the learner stopped.
  bool Learn(ExampleBatch batch, uint64_t start);
  // Reading thread: the retrain record at `offset` (see the class comment);
  // ABORTED if the model stopped meanwhile.
  absl::Status AdoptRetrain(const v1::RetrainAdoption& adoption,
                            int64_t offset);
  // Learns into `trainer` (at the cutoff's version) the samples of the
  // records in [cutoff.offset, until) after the cutoff, read again.
  absl::Status Replay(const RetrainCutoff& cutoff, int64_t until,
                      ModelTrainer& trainer) const;
  // The record as a LogRecord for this model: nullopt for a part of one not
  // complete yet; an error if it is skipped.
  absl::StatusOr<std::optional<v1::LogRecord>> Unwrap(const Record& record);
  // INVALID_ARGUMENT for a record sent to another incarnation of the model.
  absl::Status CheckIncarnation(const v1::LogRecord& log) const;
  // The samples of an observe record (any other is an error).
  absl::StatusOr<ExampleBatch> Samples(const v1::LogRecord& log) const;
  // A delivered record at `offset` waits until it is read (at once if it
  // was).
  void WhenRead(int64_t offset, Learner::QueuedCallback on_queued)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Where a state at `version` continues.
  TopicPosition PositionOf(uint64_t version) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ClientOptions options_;
  Producer* const producer_;
  const std::shared_ptr<LiveModel> model_;
  const int64_t incarnation_;
  const std::string topic_;
  const std::string checkpoint_dir_;
  const CheckpointPolicy checkpoints_;
  std::thread reader_thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> end_offset_{0};  // of the topic, as last read

  const TopicPosition resume_;  // where reading started
  // Reading thread only: the version after the samples handed over, and the
  // version the next record's samples start at (lower after a restart at a
  // record learned already).
  uint64_t version_;
  uint64_t stream_version_;
  PartAssembler parts_;

  mutable absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  int64_t next_offset_ ABSL_GUARDED_BY(mu_);
  uint64_t skipped_records_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t last_timestamp_ms_ ABSL_GUARDED_BY(mu_) = 0;  // of the last read
  // The records read, oldest first: kept while a snapshot of a state at or
  // after the last checkpoint may need them, and at least the newest
  // kKeepReads for late delivery reports.
  std::deque<Read> reads_ ABSL_GUARDED_BY(mu_);
  std::map<int64_t, std::vector<Learner::QueuedCallback>> waiting_
      ABSL_GUARDED_BY(mu_);
  absl::Mutex checkpoint_mu_;  // one checkpoint writer
  uint64_t checkpointed_version_ ABSL_GUARDED_BY(mu_);
  absl::Time checkpointed_at_ ABSL_GUARDED_BY(mu_) = absl::Now();
};

}  // namespace streamfit::kafka

#endif  // STREAMFIT_SERVER_KAFKA_MODEL_TOPIC_H_
