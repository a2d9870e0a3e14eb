#include "server/kafka/kafka_client.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "core/status_macros.h"
#include "core/thread_name.h"

namespace streamfit::kafka {
namespace {

constexpr int kMetadataTimeoutMs = 5000;

// Frees a configuration that was not handed to rd_kafka_new.
struct ConfDeleter {
  void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
};
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;

absl::Status Set(rd_kafka_conf_t* conf, const std::string& key,
                 const std::string& value) {
  char error[512];
  if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), error,
                        sizeof error) != RD_KAFKA_CONF_OK) {
    return absl::InvalidArgumentError(
        absl::StrCat("Kafka setting ", key, "=", value, ": ", error));
  }
  return absl::OkStatus();
}

using Settings = std::vector<std::pair<std::string, std::string>>;

// `defaults`, then the options' settings, then `fixed` (which the user may
// not override: streamfit's guarantees rest on them).
absl::StatusOr<ConfPtr> NewConf(const ClientOptions& options,
                                const Settings& defaults,
                                const Settings& fixed) {
  ConfPtr conf(rd_kafka_conf_new());
  RETURN_IF_ERROR(Set(conf.get(), "bootstrap.servers", options.brokers));
  RETURN_IF_ERROR(Set(conf.get(), "log_level", "3"));  // errors only
  for (const auto& [key, value] : defaults) {
    RETURN_IF_ERROR(Set(conf.get(), key, value));
  }
  for (const auto& [key, value] : options.settings) {
    RETURN_IF_ERROR(Set(conf.get(), key, value));
  }
  for (const auto& [key, value] : fixed) {
    RETURN_IF_ERROR(Set(conf.get(), key, value));
  }
  return conf;
}

absl::StatusOr<rd_kafka_t*> NewClient(rd_kafka_type_t type, ConfPtr conf) {
  char error[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), error, sizeof error);
  if (rk == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot create a Kafka client: ", error));
  }
  conf.release();  // rd_kafka_new owns it now
  return rk;
}

absl::Status Unavailable(absl::string_view what, rd_kafka_resp_err_t error) {
  return absl::UnavailableError(
      absl::StrCat(what, ": ", rd_kafka_err2str(error)));
}

}  // namespace

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseSettings(
    const std::vector<std::string>& settings) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const std::string& setting : settings) {
    const size_t eq = setting.find('=');
    if (eq == 0 || eq == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("--kafka_option '", setting, "' is not key=value"));
    }
    out.emplace_back(setting.substr(0, eq), setting.substr(eq + 1));
  }
  return out;
}

// --- Producer ---

absl::StatusOr<std::unique_ptr<Producer>> Producer::Create(
    const ClientOptions& options) {
  // A record Kafka has not acknowledged within message.timeout.ms fails
  // (Observe answers UNAVAILABLE): 30 s unless the user sets it.
  ASSIGN_OR_RETURN(ConfPtr conf,
                   NewConf(options, {{"message.timeout.ms", "30000"}},
                           {{"enable.idempotence", "true"}, {"acks", "all"}}));
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &Producer::OnDelivery);
  ASSIGN_OR_RETURN(rd_kafka_t * rk,
                   NewClient(RD_KAFKA_PRODUCER, std::move(conf)));
  std::unique_ptr<Producer> producer(new Producer(rk));
  producer->poller_ = std::thread([p = producer.get()] {
    NameThisThread("sf-kafka-dr");
    while (!p->stopping_.load(std::memory_order_acquire)) {
      rd_kafka_poll(p->rk_, 100);
    }
  });
  return producer;
}

Producer::~Producer() {
  stopping_.store(true, std::memory_order_release);
  poller_.join();
  rd_kafka_flush(rk_, 10'000);
  // Whatever is still queued fails now, so every callback runs.
  rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  rd_kafka_poll(rk_, 0);
  rd_kafka_destroy(rk_);
}

void Producer::OnDelivery(rd_kafka_t*, const rd_kafka_message_t* message,
                          void*) {
  std::unique_ptr<Delivered> delivered(
      static_cast<Delivered*>(message->_private));
  if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    (*delivered)(Unavailable("Kafka did not take the record", message->err));
  } else {
    (*delivered)(message->offset);
  }
}

absl::Status Producer::Produce(const std::string& topic, std::string value,
                               Delivered delivered) {
  auto callback = std::make_unique<Delivered>(std::move(delivered));
  const rd_kafka_resp_err_t error = rd_kafka_producev(
      rk_, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(0),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
      RD_KAFKA_V_VALUE(value.data(), value.size()),
      RD_KAFKA_V_OPAQUE(callback.get()), RD_KAFKA_V_END);
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Unavailable(absl::StrCat("cannot queue a record for ", topic),
                       error);
  }
  callback.release();  // OnDelivery owns it now
  return absl::OkStatus();
}

absl::StatusOr<int64_t> Producer::ProduceAndWait(const std::string& topic,
                                                 std::string value) {
  struct Result {
    absl::Notification done;
    absl::StatusOr<int64_t> offset;
  };
  auto result = std::make_shared<Result>();
  RETURN_IF_ERROR(Produce(topic, std::move(value),
                          [result](absl::StatusOr<int64_t> offset) {
                            result->offset = std::move(offset);
                            result->done.Notify();
                          }));
  result->done.WaitForNotification();
  return result->offset;
}

absl::StatusOr<int> Producer::PartitionCount(const std::string& topic) {
  const rd_kafka_metadata_t* metadata = nullptr;
  const rd_kafka_resp_err_t error = rd_kafka_metadata(
      rk_, /*all_topics=*/1, nullptr, &metadata, kMetadataTimeoutMs);
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Unavailable("cannot read the Kafka cluster's topics", error);
  }
  std::optional<int> partitions;
  for (int i = 0; i < metadata->topic_cnt; ++i) {
    if (topic == metadata->topics[i].topic &&
        metadata->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      partitions = metadata->topics[i].partition_cnt;
    }
  }
  rd_kafka_metadata_destroy(metadata);
  if (!partitions) {
    return absl::NotFoundError(absl::StrCat("no Kafka topic ", topic));
  }
  return *partitions;
}

absl::Status Producer::EnsureSinglePartitionTopic(const std::string& topic) {
  absl::StatusOr<int> partitions = PartitionCount(topic);
  if (absl::IsNotFound(partitions.status())) {
    char error[512];
    rd_kafka_NewTopic_t* new_topic = rd_kafka_NewTopic_new(
        topic.c_str(), 1, /*replication_factor=*/-1, error, sizeof error);
    if (new_topic == nullptr) return absl::InvalidArgumentError(error);
    rd_kafka_queue_t* queue = rd_kafka_queue_new(rk_);
    rd_kafka_CreateTopics(rk_, &new_topic, 1, nullptr, queue);
    // The result does not matter: another replica may have created it;
    // the partition count is read again below.
    rd_kafka_event_t* event = rd_kafka_queue_poll(queue, kMetadataTimeoutMs);
    if (event != nullptr) rd_kafka_event_destroy(event);
    rd_kafka_queue_destroy(queue);
    rd_kafka_NewTopic_destroy(new_topic);
    partitions = PartitionCount(topic);
  }
  if (!partitions.ok()) {
    return absl::UnavailableError(absl::StrCat("cannot create Kafka topic ",
                                               topic, ": ",
                                               partitions.status().message()));
  }
  if (*partitions != 1) {
    return absl::FailedPreconditionError(absl::StrCat(
        "Kafka topic ", topic, " has ", *partitions,
        " partitions; streamfit needs one (the partition's order is the "
        "model's)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> Producer::EndOffset(const std::string& topic) {
  int64_t low = 0, high = 0;
  const rd_kafka_resp_err_t error = rd_kafka_query_watermark_offsets(
      rk_, topic.c_str(), 0, &low, &high, kMetadataTimeoutMs);
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Unavailable(absl::StrCat("cannot read the end of ", topic), error);
  }
  return high;
}

// --- PartitionReader ---

absl::StatusOr<std::unique_ptr<PartitionReader>> PartitionReader::Create(
    const ClientOptions& options, const std::string& topic, int64_t offset) {
  // No offsets are committed: the group id only satisfies the client.
  const Settings fixed = {{"group.id", "streamfit"},
                          {"enable.auto.commit", "false"},
                          {"enable.auto.offset.store", "false"},
                          {"auto.offset.reset", "error"},
                          {"allow.auto.create.topics", "false"}};
  ASSIGN_OR_RETURN(ConfPtr conf, NewConf(options, {}, fixed));
  ASSIGN_OR_RETURN(rd_kafka_t * rk,
                   NewClient(RD_KAFKA_CONSUMER, std::move(conf)));
  std::unique_ptr<PartitionReader> reader(new PartitionReader(rk, topic));
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, topic.c_str(), 0)->offset = offset;
  const rd_kafka_resp_err_t error = rd_kafka_assign(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Unavailable(absl::StrCat("cannot read ", topic), error);
  }
  return reader;
}

PartitionReader::~PartitionReader() {
  rd_kafka_consumer_close(rk_);
  rd_kafka_destroy(rk_);
}

absl::StatusOr<std::optional<Record>> PartitionReader::Next(
    absl::Duration timeout) {
  rd_kafka_message_t* message = rd_kafka_consumer_poll(
      rk_, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
  if (message == nullptr) return std::nullopt;
  const rd_kafka_resp_err_t error = message->err;
  std::optional<Record> record;
  if (error == RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_timestamp_type_t type;
    const int64_t timestamp = rd_kafka_message_timestamp(message, &type);
    record = Record{
        message->offset,
        std::string(static_cast<const char*>(message->payload), message->len),
        timestamp > 0 ? timestamp : 0};
  }
  rd_kafka_message_destroy(message);
  switch (error) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
      return record;
    case RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET:
    case RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
      return Unavailable(absl::StrCat("cannot read ", topic_), error);
    default:
      return std::nullopt;  // transient: librdkafka retries
  }
}

absl::StatusOr<int64_t> PartitionReader::EndOffset() {
  int64_t low = -1, high = -1;
  rd_kafka_get_watermark_offsets(rk_, topic_.c_str(), 0, &low, &high);
  if (high >= 0) return high;
  const rd_kafka_resp_err_t error = rd_kafka_query_watermark_offsets(
      rk_, topic_.c_str(), 0, &low, &high, kMetadataTimeoutMs);
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Unavailable(absl::StrCat("cannot read the end of ", topic_), error);
  }
  return high;
}

}  // namespace streamfit::kafka
