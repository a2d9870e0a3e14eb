#include "server/kafka/catalogue.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "core/thread_name.h"
#include "server/kafka/peer_snapshot.h"
#include "server/kafka/record_parts.h"
#include "server/logging.h"
#include "server/proto_convert.h"
#include "server/snapshot_codec.h"

namespace streamfit::kafka {
namespace {

constexpr absl::Duration kPollTimeout = absl::Milliseconds(100);
// How long start-up may take to read the catalogue, and a call to see its
// record applied, before they give up.
constexpr absl::Duration kReplayTimeout = absl::Seconds(60);
constexpr absl::Duration kApplyTimeout = absl::Seconds(30);
constexpr size_t kKeepOutcomes = 1024;

}  // namespace

absl::StatusOr<std::unique_ptr<Catalogue>> Catalogue::Start(
    const Options& options, ModelRegistry* registry) {
  ASSIGN_OR_RETURN(std::unique_ptr<Producer> producer,
                   Producer::Create(options.kafka));
  std::unique_ptr<Catalogue> catalogue(
      new Catalogue(options, registry, std::move(producer)));
  const std::string& topic = catalogue->catalogue_topic_;
  RETURN_IF_ERROR(catalogue->producer_->EnsureSinglePartitionTopic(topic));
  ASSIGN_OR_RETURN(const int64_t end, catalogue->producer_->EndOffset(topic));
  ASSIGN_OR_RETURN(
      std::unique_ptr<PartitionReader> reader,
      PartitionReader::Create(options.kafka, topic, RD_KAFKA_OFFSET_BEGINNING));
  const absl::Time deadline = absl::Now() + kReplayTimeout;
  for (;;) {
    {
      absl::MutexLock lock(&catalogue->mu_);
      if (catalogue->next_offset_ >= end) break;
    }
    if (absl::Now() > deadline) {
      return absl::UnavailableError(
          absl::StrCat("could not read Kafka topic ", topic, " to its end (",
                       end, ") within ", absl::FormatDuration(kReplayTimeout)));
    }
    ASSIGN_OR_RETURN(std::optional<Record> record, reader->Next(kPollTimeout));
    if (record) catalogue->Apply(*record);
  }
  catalogue->follower_ =
      std::thread([c = catalogue.get(), r = std::move(reader)] {
        NameThisThread("sf-kafka-models");
        std::string last_error;
        while (!c->stopping_.load(std::memory_order_acquire)) {
          absl::StatusOr<std::optional<Record>> record = r->Next(kPollTimeout);
          if (!record.ok() && record.status().ToString() != last_error) {
            last_error = record.status().ToString();
            logging::Error("kafka.read_failed", last_error,
                           {{"topic", c->catalogue_topic_}});
          }
          if (record.ok() && *record) c->Apply(**record);
        }
      });
  return catalogue;
}

Catalogue::~Catalogue() { Stop(); }

void Catalogue::Stop() {
  stopping_.store(true, std::memory_order_release);
  if (follower_.joinable()) follower_.join();
  absl::MutexLock lock(&mu_);
  for (auto& [name, topic] : topics_) topic->Stop();
}

void Catalogue::Apply(const Record& record) {
  v1::LogRecord log;
  absl::Status status;
  if (!log.ParseFromString(record.value)) {
    status = absl::InvalidArgumentError("not a streamfit.v1.LogRecord");
  } else if (log.has_part()) {
    absl::StatusOr<std::optional<v1::LogRecord>> whole =
        parts_.Add({record.offset, 0}, log.part());
    if (!whole.ok()) {
      status = whole.status();
    } else if (*whole) {
      log = **std::move(whole);
    }
  }
  if (!status.ok() || log.has_part()) {
    // refused above, or a part of a record not complete yet
  } else if (log.has_create_model()) {
    status = ApplyCreate(record.offset, log.create_model(), log.start_offset());
  } else if (log.has_delete_model()) {
    status = ApplyDelete(log.delete_model());
  } else if (log.has_restore_model()) {
    status =
        ApplyRestore(record.offset, log.restore_model(), log.start_offset());
  } else {
    status = absl::InvalidArgumentError(
        "the catalogue holds create_model, delete_model and restore_model "
        "records");
  }
  if (!status.ok()) {
    logging::Warning("kafka.catalogue_record_refused",
                     absl::StrCat("offset ", record.offset, " of ",
                                  catalogue_topic_, ": ", status.message()),
                     {{"topic", catalogue_topic_}, {"offset", record.offset}});
  }
  absl::MutexLock lock(&mu_);
  outcomes_[record.offset] = status;
  while (outcomes_.size() > kKeepOutcomes) outcomes_.erase(outcomes_.begin());
  next_offset_ = record.offset + 1;
}

absl::StatusOr<TopicCheckpoint> Catalogue::StartingState(
    const std::string& name, int64_t incarnation, const LinearModel& initial,
    int64_t start_offset, const std::string& dir, std::string* source) const {
  const ModelConfig& config = initial.config();
  absl::StatusOr<TopicCheckpoint> checkpoint =
      LoadTopicCheckpoint(dir, options_.checkpoints.file_system);
  if (checkpoint.ok() && checkpoint->model.config() == config) {
    *source = " (its checkpoint)";
    return checkpoint;
  }
  if (!absl::IsNotFound(checkpoint.status())) {
    logging::Warning(
        "kafka.checkpoint_unusable",
        absl::StrCat(
            "model '", name, "' has no usable checkpoint: ",
            checkpoint.ok() ? "another config" : checkpoint.status().message()),
        {{"model", name}});
  }
  if (!options_.bootstrap_peer.address.empty()) {
    absl::StatusOr<TopicCheckpoint> peer =
        FetchPeerSnapshot(options_.bootstrap_peer, name, incarnation, config);
    if (peer.ok()) {
      *source = absl::StrCat(" (peer ", options_.bootstrap_peer.address, ")");
      return peer;
    }
    logging::Warning("kafka.bootstrap_failed",
                     absl::StrCat("model '", name, "' replays its topic: ",
                                  peer.status().message()),
                     {{"model", name}});
  }
  *source = "";
  return TopicCheckpoint{initial, {start_offset, initial.version()}};
}

absl::Status Catalogue::ApplyCreate(int64_t offset,
                                    const v1::CreateModelRequest& create,
                                    int64_t start_offset) {
  const std::string& name = create.name();
  RETURN_IF_ERROR(ValidateModelName(name));
  ASSIGN_OR_RETURN(const ModelConfig config,
                   WithDefaults(FromProto(create.config())));
  if (registry_->Get(name).ok()) {
    return absl::AlreadyExistsError(
        absl::StrCat("model '", name, "' already exists"));
  }
  ASSIGN_OR_RETURN(const LinearModel empty, LinearModel::Create(config));
  // Held until the topic is listed, so that no Observe finds the model in
  // the registry without its topic.
  absl::MutexLock lock(&mu_);
  return StartIncarnation(name, offset + 1, empty, start_offset,
                          [&](const LinearModel& start) {
                            return registry_->CreateWithState(name, start);
                          });
}

absl::Status Catalogue::ApplyRestore(int64_t offset,
                                     const v1::RestoreRequest& request,
                                     int64_t start_offset) {
  const std::string& name = request.model();
  ASSIGN_OR_RETURN(const std::shared_ptr<LiveModel> live, registry_->Get(name));
  ASSIGN_OR_RETURN(const LinearModel state, FromSnapshot(request.snapshot()));
  RETURN_IF_ERROR(CheckReshape(*live, state.config(), request.allow_reshape()));
  RETURN_IF_ERROR(registry_->CheckModelSize(state.config()));
  absl::MutexLock lock(&mu_);
  auto it = topics_.find(name);
  if (it == topics_.end()) {
    return absl::NotFoundError(absl::StrCat("model '", name, "' not found"));
  }
  const std::shared_ptr<ModelTopic> replaced = std::move(it->second);
  topics_.erase(it);
  replaced->Stop();
  const absl::Status started = StartIncarnation(
      name, offset + 1, state, start_offset, [&](const LinearModel& start) {
        return registry_->Restore(
            name, start, /*allow_reshape=*/true,
            {request.snapshot_name(), request.snapshot().model()});
      });
  if (!started.ok()) registry_->Delete(name).IgnoreError();
  RETURN_IF_ERROR(started);
  return options_.checkpoints.file_system->RemoveAll(
      replaced->checkpoint_dir());
}

absl::Status Catalogue::StartIncarnation(
    const std::string& name, int64_t incarnation, const LinearModel& initial,
    int64_t start_offset,
    absl::FunctionRef<
        absl::StatusOr<std::shared_ptr<LiveModel>>(const LinearModel&)>
        install) {
  const std::string dir =
      absl::StrCat(options_.data_dir, "/kafka/", name, ".", incarnation);
  std::string source;
  ASSIGN_OR_RETURN(
      const TopicCheckpoint start,
      StartingState(name, incarnation, initial, start_offset, dir, &source));
  const uint64_t version = start.model.version();
  ASSIGN_OR_RETURN(std::shared_ptr<LiveModel> model, install(start.model));
  absl::StatusOr<std::shared_ptr<ModelTopic>> topic = ModelTopic::Start(
      options_.kafka, producer_.get(), model, incarnation, TopicOf(name),
      start.position, dir, options_.checkpoints);
  if (!topic.ok()) {
    registry_->Delete(name).IgnoreError();
    return topic.status();
  }
  logging::Info(
      "kafka.model_start",
      absl::StrCat("model '", name, "' (incarnation ", incarnation, ") reads ",
                   TopicOf(name), " from offset ", start.position.offset,
                   " at version ", version, source),
      {{"model", name},
       {"topic", TopicOf(name)},
       {"offset", start.position.offset},
       {"version", version}});
  topics_[name] = *std::move(topic);
  return absl::OkStatus();
}

absl::Status Catalogue::ApplyDelete(const v1::DeleteModelRequest& request) {
  std::shared_ptr<ModelTopic> topic;
  {
    absl::MutexLock lock(&mu_);
    auto it = topics_.find(request.name());
    if (it == topics_.end()) {
      return absl::NotFoundError(
          absl::StrCat("model '", request.name(), "' not found"));
    }
    topic = std::move(it->second);
    topics_.erase(it);
  }
  topic->Stop();
  RETURN_IF_ERROR(registry_->Delete(request.name()));
  return options_.checkpoints.file_system->RemoveAll(topic->checkpoint_dir());
}

absl::Status Catalogue::WriteAndWait(const v1::LogRecord& record) {
  ASSIGN_OR_RETURN(const int64_t offset,
                   WriteRecord(*producer_, catalogue_topic_, record,
                               options_.kafka.max_message_bytes));
  absl::MutexLock lock(&mu_);
  auto applied = [this, offset]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return next_offset_ > offset;
  };
  if (!mu_.AwaitWithTimeout(absl::Condition(&applied), kApplyTimeout)) {
    return absl::DeadlineExceededError(
        absl::StrCat("written at offset ", offset, " of ", catalogue_topic_,
                     " but not applied yet; it will be"));
  }
  auto it = outcomes_.find(offset);
  if (it == outcomes_.end()) {
    return absl::UnknownError(
        absl::StrCat("offset ", offset, " of ", catalogue_topic_,
                     " was applied but its outcome is no longer known"));
  }
  return it->second;
}

absl::StatusOr<std::shared_ptr<LiveModel>> Catalogue::Create(
    absl::string_view name, const ModelConfig& config) {
  RETURN_IF_ERROR(ValidateModelName(name));
  ASSIGN_OR_RETURN(const ModelConfig full, WithDefaults(config));
  RETURN_IF_ERROR(registry_->CheckModelSize(full));
  if (registry_->Get(name).ok()) {
    return absl::AlreadyExistsError(
        absl::StrCat("model '", name, "' already exists"));
  }
  const std::string topic = TopicOf(name);
  RETURN_IF_ERROR(producer_->EnsureSinglePartitionTopic(topic));
  ASSIGN_OR_RETURN(const int64_t start, producer_->EndOffset(topic));
  v1::LogRecord record;
  record.mutable_create_model()->set_name(std::string(name));
  *record.mutable_create_model()->mutable_config() = ToProto(full);
  record.set_start_offset(start);
  RETURN_IF_ERROR(WriteAndWait(record));
  return registry_->Get(name);
}

absl::Status Catalogue::Delete(absl::string_view name) {
  RETURN_IF_ERROR(ValidateModelName(name));
  RETURN_IF_ERROR(registry_->Get(name).status());
  v1::LogRecord record;
  record.mutable_delete_model()->set_name(std::string(name));
  return WriteAndWait(record);
}

absl::StatusOr<std::shared_ptr<LiveModel>> Catalogue::Restore(
    const v1::RestoreRequest& request) {
  ASSIGN_OR_RETURN(const int64_t start,
                   producer_->EndOffset(TopicOf(request.model())));
  v1::LogRecord record;
  *record.mutable_restore_model() = request;
  record.set_start_offset(start);
  RETURN_IF_ERROR(WriteAndWait(record));
  return registry_->Get(request.model());
}

std::shared_ptr<ModelTopic> Catalogue::Topic(absl::string_view name) const {
  absl::MutexLock lock(&mu_);
  auto it = topics_.find(name);
  return it == topics_.end() ? nullptr : it->second;
}

absl::Status Catalogue::CheckpointAll(bool force) {
  std::vector<std::shared_ptr<ModelTopic>> topics;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [name, topic] : topics_) topics.push_back(topic);
  }
  absl::Status result;
  for (const auto& topic : topics) result.Update(topic->Checkpoint(force));
  return result;
}

}  // namespace streamfit::kafka
