#include "server/kafka/model_topic.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "core/status_macros.h"
#include "core/storage/checkpoint.h"
#include "core/thread_name.h"
#include "server/logging.h"
#include "server/proto_convert.h"
#include "server/snapshot_codec.h"

namespace streamfit::kafka {
namespace {

// Records read that stay known after a checkpoint covers them, so that a
// delivery report arriving after its record was read still finds it.
constexpr size_t kKeepReads = 1 << 16;
constexpr absl::Duration kPollTimeout = absl::Milliseconds(100);
constexpr absl::Duration kRetryAfterError = absl::Seconds(1);

// Samples [from, size()) of `batch`.
ExampleBatch Suffix(const ExampleBatch& batch, size_t from) {
  ExampleBatch out;
  out.num_features = batch.num_features;
  for (size_t i = from; i < batch.size(); ++i) {
    out.Add(batch.view(i), batch.labels[i], batch.weights[i]);
  }
  return out;
}

// Waits for `learner` to publish `version` (every batch handed over
// applied); false if it stopped first.
bool WaitForVersion(Learner& learner, uint64_t version) {
  absl::Notification published;
  bool ok = false;
  learner.WhenVersion(
      version, [&](absl::StatusOr<std::shared_ptr<const LinearModel>> state) {
        ok = state.ok();
        published.Notify();
      });
  published.WaitForNotification();
  return ok;
}

}  // namespace

absl::StatusOr<TopicCheckpoint> LoadTopicCheckpoint(const std::string& dir,
                                                    FileSystem* fs) {
  if (!fs->IsDirectory(dir)) {
    return absl::NotFoundError(absl::StrCat("no checkpoint in ", dir));
  }
  std::optional<TopicCheckpoint> loaded;
  std::vector<std::string> skipped;
  const absl::StatusOr<uint64_t> version = CheckpointStore(dir, fs).LoadNewest(
      [&](uint64_t version, const std::string& payload) -> absl::Status {
        v1::ModelSnapshot snapshot;
        if (!snapshot.ParseFromString(payload)) {
          return absl::DataLossError("not a serialized model snapshot");
        }
        ASSIGN_OR_RETURN(LinearModel model, FromSnapshot(snapshot));
        if (model.version() != version ||
            snapshot.kafka_record_version() > version) {
          return absl::DataLossError("checkpoint version does not match");
        }
        loaded = TopicCheckpoint{
            std::move(model),
            {snapshot.kafka_offset(), snapshot.kafka_record_version()}};
        return absl::OkStatus();
      },
      &skipped);
  for (const std::string& s : skipped) {
    logging::Warning("model.checkpoint_skipped", s, {});
  }
  if (!version.ok()) return version.status();
  return *std::move(loaded);
}

ModelTopic::ModelTopic(const ClientOptions& options, Producer* producer,
                       std::shared_ptr<LiveModel> model, int64_t incarnation,
                       std::string topic, TopicPosition position,
                       std::string checkpoint_dir, CheckpointPolicy checkpoints)
    : options_(options),
      producer_(producer),
      model_(std::move(model)),
      incarnation_(incarnation),
      topic_(std::move(topic)),
      checkpoint_dir_(std::move(checkpoint_dir)),
      checkpoints_(checkpoints),
      resume_(position),
      version_(model_->learner.Current()->version()),
      stream_version_(position.record_version),
      next_offset_(position.offset),
      checkpointed_version_(version_) {}

absl::StatusOr<std::shared_ptr<ModelTopic>> ModelTopic::Start(
    const ClientOptions& options, Producer* producer,
    std::shared_ptr<LiveModel> model, int64_t incarnation, std::string topic,
    TopicPosition position, std::string checkpoint_dir,
    CheckpointPolicy checkpoints) {
  RETURN_IF_ERROR(checkpoints.file_system->CreateDirectories(checkpoint_dir));
  ASSIGN_OR_RETURN(std::unique_ptr<PartitionReader> reader,
                   PartitionReader::Create(options, topic, position.offset));
  std::shared_ptr<ModelTopic> model_topic(new ModelTopic(
      options, producer, std::move(model), incarnation, std::move(topic),
      position, std::move(checkpoint_dir), checkpoints));
  model_topic->reader_thread_ =
      std::thread([t = model_topic.get(), r = std::move(reader)]() mutable {
        NameThisThread("sf-kafka-read");
        t->Run(std::move(r));
      });
  return model_topic;
}

ModelTopic::~ModelTopic() { Stop(); }

void ModelTopic::Stop() {
  stopping_.store(true, std::memory_order_release);
  if (reader_thread_.joinable()) reader_thread_.join();
  std::map<int64_t, std::vector<Learner::QueuedCallback>> waiting;
  {
    absl::MutexLock lock(&mu_);
    stopped_ = true;
    waiting.swap(waiting_);
  }
  for (auto& [offset, callbacks] : waiting) {
    for (auto& callback : callbacks) {
      callback(absl::AbortedError(absl::StrCat(
          "model '", model_->name, "' stopped before it read offset ", offset,
          " of ", topic_)));
    }
  }
}

void ModelTopic::Run(std::unique_ptr<PartitionReader> reader) {
  std::string last_error;
  while (!stopping_.load(std::memory_order_acquire)) {
    absl::StatusOr<std::optional<Record>> record = reader->Next(kPollTimeout);
    if (!record.ok()) {
      if (record.status().ToString() != last_error) {  // once per error
        last_error = record.status().ToString();
        logging::Error("kafka.read_failed", last_error,
                       {{"model", model_->name}, {"topic", topic_}});
      }
      absl::SleepFor(kRetryAfterError);
      continue;
    }
    if (absl::StatusOr<int64_t> end = reader->EndOffset(); end.ok()) {
      end_offset_.store(*end, std::memory_order_relaxed);
    }
    if (*record && !Apply(**record)) return;
  }
}

absl::StatusOr<std::optional<v1::LogRecord>> ModelTopic::Unwrap(
    const Record& record) {
  v1::LogRecord log;
  if (!log.ParseFromString(record.value)) {
    return absl::InvalidArgumentError("not a streamfit.v1.LogRecord");
  }
  if (log.has_part()) {
    ASSIGN_OR_RETURN(std::optional<v1::LogRecord> whole,
                     parts_.Add({record.offset, stream_version_}, log.part()));
    if (!whole) return std::nullopt;
    if (!whole->has_adopt_retrain()) {
      return absl::InvalidArgumentError(
          "only adopt_retrain records come in parts");
    }
    log = *std::move(whole);
  }
  RETURN_IF_ERROR(CheckIncarnation(log));
  return log;
}

absl::Status ModelTopic::CheckIncarnation(const v1::LogRecord& log) const {
  if (log.model_incarnation() == 0 || log.model_incarnation() == incarnation_) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "sent to incarnation ", log.model_incarnation(), " of the model, not ",
      incarnation_, " (it was deleted and created again)"));
}

absl::StatusOr<ExampleBatch> ModelTopic::Samples(
    const v1::LogRecord& log) const {
  if (!log.has_observe()) {
    return absl::InvalidArgumentError(
        "a model's topic holds observe and adopt_retrain records");
  }
  const v1::ObserveRequest& observe = log.observe();
  if (!observe.model().empty() && observe.model() != model_->name) {
    return absl::InvalidArgumentError(
        absl::StrCat("names model '", observe.model(), "'"));
  }
  return ToExampleBatch(observe, model_->config);
}

bool ModelTopic::Learn(ExampleBatch batch, uint64_t start) {
  const uint64_t samples = batch.size();
  const uint64_t learned = version_ > start ? version_ - start : 0;
  if (learned < samples) {
    if (learned > 0) batch = Suffix(batch, learned);
    absl::Notification queued;
    absl::Status refused;
    model_->learner.Submit(std::move(batch), [&](absl::StatusOr<uint64_t> end) {
      refused = end.status();
      queued.Notify();
    });
    queued.WaitForNotification();
    if (!refused.ok()) return false;  // the learner stopped
  }
  version_ = std::max(version_, start + samples);
  return true;
}

bool ModelTopic::Apply(const Record& record) {
  const uint64_t start = stream_version_;
  uint64_t samples = 0;
  absl::Status status;
  if (absl::StatusOr<std::optional<v1::LogRecord>> log = Unwrap(record);
      !log.ok()) {
    status = log.status();
  } else if (*log && (*log)->has_adopt_retrain()) {
    status = AdoptRetrain((*log)->adopt_retrain(), record.offset);
    if (absl::IsAborted(status)) return false;
  } else if (*log) {
    absl::StatusOr<ExampleBatch> batch = Samples(**log);
    if (batch.ok()) {
      samples = batch->size();
      if (!Learn(*std::move(batch), start)) return false;
    }
    status = batch.status();
  }
  stream_version_ = start + samples;
  if (!status.ok()) {
    logging::Warning("kafka.record_skipped",
                     absl::StrCat("skipped offset ", record.offset, " of ",
                                  topic_, ": ", status.message()),
                     {{"model", model_->name},
                      {"topic", topic_},
                      {"offset", record.offset}});
  }
  const Read read{record.offset, start, start + samples, status,
                  parts_.OldestPending()};
  std::vector<Learner::QueuedCallback> ready;
  {
    absl::MutexLock lock(&mu_);
    if (!status.ok()) ++skipped_records_;
    reads_.push_back(read);
    next_offset_ = record.offset + 1;
    last_timestamp_ms_ = record.timestamp_ms;
    while (reads_.size() > kKeepReads &&
           reads_.front().end < checkpointed_version_) {
      reads_.pop_front();
    }
    for (auto it = waiting_.begin();
         it != waiting_.end() && it->first <= record.offset;
         it = waiting_.erase(it)) {
      for (auto& callback : it->second) ready.push_back(std::move(callback));
    }
  }
  for (auto& callback : ready) {
    if (read.status.ok()) {
      callback(read.end);
    } else {
      callback(absl::InvalidArgumentError(
          absl::StrCat("offset ", read.offset, " of ", topic_,
                       " was not learned: ", read.status.message())));
    }
  }
  return true;
}

absl::Status ModelTopic::AdoptRetrain(const v1::RetrainAdoption& adoption,
                                      int64_t offset) {
  const RetrainCutoff cutoff{
      adoption.cutoff_version(),
      {adoption.cutoff_offset(), adoption.cutoff_record_version()}};
  if (cutoff.version > version_ ||
      cutoff.position.record_version > cutoff.version ||
      cutoff.position.offset >= offset) {
    return absl::InvalidArgumentError(absl::StrCat(
        "retrain ", adoption.job_id(), " names cutoff version ", cutoff.version,
        " at offset ", cutoff.position.offset, ", which the model at version ",
        version_, " does not have"));
  }
  ASSIGN_OR_RETURN(const LinearModel fitted, FromSnapshot(adoption.fitted()));
  if (!(fitted.config() == model_->config)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "retrain ", adoption.job_id(), " fitted a model of another config"));
  }
  ASSIGN_OR_RETURN(LinearModel from_cutoff,
                   LinearModel::FromState(model_->config, cutoff.version,
                                          fitted.ExportState()));
  ModelTrainer next(std::move(from_cutoff));
  RETURN_IF_ERROR(Replay(cutoff, offset, next));
  if (next.version() != version_) {
    return absl::InternalError(
        absl::StrCat("retrain ", adoption.job_id(), " replayed to version ",
                     next.version(), " but the model is at ", version_));
  }
  if (!WaitForVersion(model_->learner, version_)) {
    return absl::AbortedError("the model stopped");
  }
  absl::Notification done;
  absl::Status replaced;
  SwapRecord swap{adoption.job_id(), adoption.algorithm(),
                  adoption.dataset_id(), version_};
  model_->learner.Replace(
      next.model(),
      [&](absl::StatusOr<uint64_t> version) {
        replaced = version.status();
        done.Notify();
      },
      [&](const LinearModel& old, const LinearModel& adopted) {
        swap.replaced = old.metrics();
        swap.adopted = adopted.metrics();
      });
  done.WaitForNotification();
  if (replaced.ok()) {
    model_->SetLineage(AppendLineage(
        model_->GetLineage(),
        RetrainedEvent(swap, absl::ToUnixMillis(absl::Now())), swap.replaced));
    logging::Info(
        "kafka.retrain_adopted",
        absl::StrCat("model '", model_->name, "' adopted retrain ",
                     adoption.job_id(), " at offset ", offset, ", version ",
                     version_, ", replaying from ", cutoff.version),
        {{"model", model_->name}, {"offset", offset}, {"version", version_}});
  }
  return replaced;
}

absl::Status ModelTopic::Replay(const RetrainCutoff& cutoff, int64_t until,
                                ModelTrainer& trainer) const {
  ASSIGN_OR_RETURN(
      std::unique_ptr<PartitionReader> reader,
      PartitionReader::Create(options_, topic_, cutoff.position.offset));
  uint64_t stream = cutoff.position.record_version;
  for (int64_t next = cutoff.position.offset; next < until;) {
    if (stopping_.load(std::memory_order_acquire)) {
      return absl::AbortedError("the model stopped");
    }
    ASSIGN_OR_RETURN(const std::optional<Record> record,
                     reader->Next(kPollTimeout));
    if (!record) continue;
    if (record->offset >= until) break;
    next = record->offset + 1;
    v1::LogRecord log;
    if (!log.ParseFromString(record->value) || log.has_part() ||
        !CheckIncarnation(log).ok()) {
      continue;  // skipped when it was read, as now
    }
    const absl::StatusOr<ExampleBatch> batch = Samples(log);
    if (!batch.ok()) continue;
    const uint64_t start = stream;
    stream += batch->size();
    if (stream > cutoff.version) {
      trainer.LearnBatch(*batch,
                         cutoff.version > start ? cutoff.version - start : 0,
                         batch->size());
    }
  }
  return absl::OkStatus();
}

void ModelTopic::Submit(const v1::ObserveRequest& request,
                        Learner::QueuedCallback on_queued,
                        Learner::AdmittedCallback on_admitted) {
  v1::LogRecord log;
  *log.mutable_observe() = request;
  log.mutable_observe()->set_model(model_->name);
  log.set_model_incarnation(incarnation_);
  std::string value = log.SerializeAsString();
  if (value.size() > options_.max_message_bytes) {
    on_queued(absl::ResourceExhaustedError(absl::StrCat(
        "the request is ", value.size(),
        " bytes as a Kafka record, over the limit of ",
        options_.max_message_bytes,
        " (--kafka_max_message_bytes); send fewer samples per request")));
    return;
  }
  // Shared by the delivery report and the error path below: whichever runs.
  auto answer = std::make_shared<Learner::QueuedCallback>(std::move(on_queued));
  const absl::Status queued = producer_->Produce(
      topic_, std::move(value),
      [self = weak_from_this(), answer](absl::StatusOr<int64_t> offset) {
        const std::shared_ptr<ModelTopic> topic = self.lock();
        if (!offset.ok()) {
          (*answer)(offset.status());
        } else if (topic == nullptr) {
          (*answer)(absl::AbortedError("the model stopped"));
        } else {
          topic->WhenRead(*offset, std::move(*answer));
        }
      });
  if (!queued.ok()) {
    (*answer)(queued);
    return;
  }
  if (on_admitted) on_admitted();
}

void ModelTopic::WhenRead(int64_t offset, Learner::QueuedCallback on_queued) {
  absl::StatusOr<uint64_t> answer;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) {
      answer = absl::AbortedError(
          absl::StrCat("model '", model_->name, "' stopped"));
    } else if (offset >= next_offset_) {
      waiting_[offset].push_back(std::move(on_queued));
      return;
    } else if (reads_.empty() || offset < reads_.front().offset) {
      // Read long ago: every sample it held is in versions up to the
      // oldest read still known.
      answer = reads_.empty() ? resume_.record_version : reads_.front().start;
    } else {
      const auto it = std::lower_bound(
          reads_.begin(), reads_.end(), offset,
          [](const Read& r, int64_t o) { return r.offset < o; });
      answer = it->status.ok()
                   ? absl::StatusOr<uint64_t>(it->end)
                   : absl::InvalidArgumentError(absl::StrCat(
                         "offset ", offset, " of ", topic_,
                         " was not learned: ", it->status.message()));
    }
  }
  on_queued(std::move(answer));
}

TopicPosition ModelTopic::PositionOf(uint64_t version) const {
  // The record holding sample `version` decides, so that every replica
  // names the same position for a state: inside it, at its start; at its
  // end, just after it.
  const auto it =
      std::find_if(reads_.begin(), reads_.end(), [version](const Read& r) {
        return r.end > r.start && r.start < version && r.end >= version;
      });
  if (it == reads_.end()) return resume_;  // no sample read since then
  TopicPosition position = it->end > version
                               ? TopicPosition{it->offset, it->start}
                               : TopicPosition{it->offset + 1, version};
  // A record in parts not complete there must be read again from its
  // first part.
  if (it->pending && it->pending->offset < position.offset) {
    position = *it->pending;
  }
  return position;
}

RetrainCutoff ModelTopic::Cutoff() const {
  const uint64_t version = model_->learner.Current()->version();
  absl::MutexLock lock(&mu_);
  return {version, PositionOf(version)};
}

absl::StatusOr<uint64_t> ModelTopic::PublishRetrain(
    const SwapRecord& swap, const LinearModel& fitted,
    const RetrainCutoff& cutoff) {
  v1::LogRecord record;
  v1::RetrainAdoption* adoption = record.mutable_adopt_retrain();
  adoption->set_job_id(swap.job_id);
  adoption->set_algorithm(swap.algorithm);
  adoption->set_dataset_id(swap.dataset_id);
  ToSnapshot(model_->name, fitted, adoption->mutable_fitted());
  adoption->set_cutoff_offset(cutoff.position.offset);
  adoption->set_cutoff_record_version(cutoff.position.record_version);
  adoption->set_cutoff_version(cutoff.version);
  record.set_model_incarnation(incarnation_);
  ASSIGN_OR_RETURN(
      const int64_t offset,
      WriteRecord(*producer_, topic_, record, options_.max_message_bytes));
  absl::Notification read;
  absl::StatusOr<uint64_t> version;
  WhenRead(offset, [&](absl::StatusOr<uint64_t> v) {
    version = std::move(v);
    read.Notify();
  });
  read.WaitForNotification();
  return version;
}

void ModelTopic::Describe(const LinearModel& state,
                          v1::ModelSnapshot* snapshot) const {
  ToSnapshot(model_->name, state, snapshot);
  TopicPosition position;
  {
    absl::MutexLock lock(&mu_);
    position = PositionOf(state.version());
  }
  snapshot->set_kafka_offset(position.offset);
  snapshot->set_kafka_record_version(position.record_version);
  snapshot->set_kafka_incarnation(incarnation_);
}

v1::KafkaPosition ModelTopic::Position() const {
  v1::KafkaPosition position;
  position.set_topic(topic_);
  position.set_end_offset(end_offset_.load(std::memory_order_relaxed));
  absl::MutexLock lock(&mu_);
  position.set_next_offset(next_offset_);
  position.set_end_offset(std::max(position.end_offset(), next_offset_));
  position.set_skipped_records(skipped_records_);
  if (position.end_offset() > next_offset_ && last_timestamp_ms_ > 0) {
    position.set_lag_seconds(std::max<double>(
        0, static_cast<double>(absl::ToUnixMillis(absl::Now()) -
                               last_timestamp_ms_) /
               1000));
  }
  return position;
}

absl::Status ModelTopic::Checkpoint(bool force) {
  absl::MutexLock writer(&checkpoint_mu_);
  const std::shared_ptr<const LinearModel> state = model_->learner.Current();
  const uint64_t version = state->version();
  {
    absl::MutexLock lock(&mu_);
    if (version == checkpointed_version_) return absl::OkStatus();
    if (!force &&
        version - checkpointed_version_ < checkpoints_.every_samples &&
        absl::Now() - checkpointed_at_ < checkpoints_.interval) {
      return absl::OkStatus();
    }
  }
  v1::ModelSnapshot snapshot;
  Describe(*state, &snapshot);
  const CheckpointStore store(checkpoint_dir_, checkpoints_.file_system);
  RETURN_IF_ERROR(store.Write(version, snapshot.SerializeAsString()));
  RETURN_IF_ERROR(store.Prune(2).status());
  absl::MutexLock lock(&mu_);
  checkpointed_version_ = version;
  checkpointed_at_ = absl::Now();
  return absl::OkStatus();
}

}  // namespace streamfit::kafka
