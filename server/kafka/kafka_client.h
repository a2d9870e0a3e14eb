// The parts of librdkafka streamfit uses, as RAII classes with absl::Status
// errors: a producer that reports each message's offset, and a reader of
// one topic partition from a chosen offset.
#ifndef STREAMFIT_SERVER_KAFKA_KAFKA_CLIENT_H_
#define STREAMFIT_SERVER_KAFKA_KAFKA_CLIENT_H_

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace streamfit::kafka {

// How to reach the cluster: --kafka_brokers, --kafka_topic_prefix and the
// pass-through --kafka_option=key=value settings (security and tuning, any
// librdkafka configuration property; they apply to every client).
struct ClientOptions {
  std::string brokers;  // host:port[,host:port...]
  std::string topic_prefix = "streamfit.";
  std::vector<std::pair<std::string, std::string>> settings;
  // The largest message streamfit writes (--kafka_max_message_bytes, as
  // Kafka's default limits); a larger record (a model state) is written in
  // parts.
  size_t max_message_bytes = 1'000'000;
};

// INVALID_ARGUMENT unless every setting is "key=value" with a non-empty key.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseSettings(
    const std::vector<std::string>& settings);

// Writes records with an idempotent producer (acks=all): a record reported
// delivered is held by every in-sync replica, and records sent to one
// partition keep their order with no duplicates across retries. A thread
// serves delivery reports. Thread-safe.
class Producer {
 public:
  static absl::StatusOr<std::unique_ptr<Producer>> Create(
      const ClientOptions& options);
  ~Producer();  // waits up to 10 s for records in flight, then drops them

  // Called once, on the producer's thread, with the record's offset or why
  // it was not written (UNAVAILABLE). Must not block.
  using Delivered = absl::AnyInvocable<void(absl::StatusOr<int64_t> offset)>;
  // Queues `value` for partition 0 of `topic`. An error (UNAVAILABLE when
  // the local queue is full) means nothing was queued and `delivered` will
  // not run.
  absl::Status Produce(const std::string& topic, std::string value,
                       Delivered delivered);
  // Produce, then waits for the delivery report.
  absl::StatusOr<int64_t> ProduceAndWait(const std::string& topic,
                                         std::string value);

  // The topic's partition count, or NOT_FOUND if the cluster has no such
  // topic (listing all topics, which never creates one).
  absl::StatusOr<int> PartitionCount(const std::string& topic);
  // Makes sure `topic` exists with one partition: creates it if missing.
  // FAILED_PRECONDITION if it has more than one partition (a model's order
  // is its partition's order).
  absl::Status EnsureSinglePartitionTopic(const std::string& topic);
  // The offset after the topic's last record (its high watermark).
  absl::StatusOr<int64_t> EndOffset(const std::string& topic);

 private:
  explicit Producer(rd_kafka_t* rk) : rk_(rk) {}
  static void OnDelivery(rd_kafka_t* rk, const rd_kafka_message_t* message,
                         void* opaque);

  rd_kafka_t* const rk_;
  std::atomic<bool> stopping_{false};
  std::thread poller_;
};

// One record read from a partition.
struct Record {
  int64_t offset = 0;
  std::string value;
  int64_t timestamp_ms = 0;  // when it was written (0: unknown)
};

// Reads partition 0 of one topic in offset order from a given offset,
// without a consumer group (the reader's position lives with the state it
// feeds, not in Kafka). Not thread-safe: one reading thread.
class PartitionReader {
 public:
  static absl::StatusOr<std::unique_ptr<PartitionReader>> Create(
      const ClientOptions& options, const std::string& topic, int64_t offset);
  ~PartitionReader();

  // The next record, or nullopt if none arrived within `timeout`.
  // UNAVAILABLE on a lasting error (an unknown topic, an offset no longer
  // held); transient broker errors are retried inside.
  absl::StatusOr<std::optional<Record>> Next(absl::Duration timeout);
  // The partition's high watermark as last reported by the broker.
  absl::StatusOr<int64_t> EndOffset();

  const std::string& topic() const { return topic_; }

 private:
  PartitionReader(rd_kafka_t* rk, std::string topic)
      : rk_(rk), topic_(std::move(topic)) {}

  rd_kafka_t* const rk_;
  const std::string topic_;
};

}  // namespace streamfit::kafka

#endif  // STREAMFIT_SERVER_KAFKA_KAFKA_CLIENT_H_
