// LogRecords larger than one Kafka message (a model state in a Restore or
// a retrain's fit) travel as LogRecordParts: written in order, read back in
// offset order and reassembled, the record applied at its last part.
#ifndef STREAMFIT_SERVER_KAFKA_RECORD_PARTS_H_
#define STREAMFIT_SERVER_KAFKA_RECORD_PARTS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "server/kafka/kafka_client.h"
#include "streamfit/v1/streamfit.pb.h"

namespace streamfit::kafka {

// Where learning continues in a topic: the record at `offset` starts at
// model version `record_version`; a model at version v >= record_version
// has learned its first v - record_version samples already.
struct TopicPosition {
  int64_t offset = 0;
  uint64_t record_version = 0;
};

// Writes `record` to partition 0 of `topic`: as one message if its
// serialized size is at most `max_message_bytes`, else as parts of that
// size at most, waiting for each. The offset of its last message (where it
// applies).
absl::StatusOr<int64_t> WriteRecord(Producer& producer,
                                    const std::string& topic,
                                    const v1::LogRecord& record,
                                    size_t max_message_bytes);

// Reassembles the parts of one topic read in offset order. What it returns
// depends only on the records given, so replicas reading the same topic
// reassemble alike. At most kMaxPending records are incomplete at once
// (the oldest is dropped for a newer one: its writer died mid-way). Not
// thread-safe.
class PartAssembler {
 public:
  static constexpr size_t kMaxPending = 4;

  // The part read at `position`: nullopt while parts of its record are missing,
  // the record with its last part; INVALID_ARGUMENT for a part that does not
  // continue its record (a part missing before it; the record is dropped).
  absl::StatusOr<std::optional<v1::LogRecord>> Add(
      const TopicPosition& position, const v1::LogRecordPart& part);

  // Where the first part of the oldest incomplete record was read, if any:
  // reading must restart there to complete it.
  std::optional<TopicPosition> OldestPending() const;

 private:
  struct Pending {
    TopicPosition first;
    uint32_t next_index;
    std::string data;
  };
  std::map<std::string, Pending> pending_;  // by part id
};

}  // namespace streamfit::kafka

#endif  // STREAMFIT_SERVER_KAFKA_RECORD_PARTS_H_
