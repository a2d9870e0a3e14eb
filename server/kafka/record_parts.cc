#include "server/kafka/record_parts.h"

#include <algorithm>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "server/snapshot_codec.h"

namespace streamfit::kafka {
namespace {

// Room for a part's id, index, count and framing around its data.
constexpr size_t kPartOverhead = 128;

}  // namespace

absl::StatusOr<int64_t> WriteRecord(Producer& producer,
                                    const std::string& topic,
                                    const v1::LogRecord& record,
                                    size_t max_message_bytes) {
  std::string bytes = record.SerializeAsString();
  if (bytes.size() <= max_message_bytes) {
    return producer.ProduceAndWait(topic, std::move(bytes));
  }
  if (max_message_bytes <= kPartOverhead) {
    return absl::InvalidArgumentError(
        absl::StrCat("a Kafka message of at most ", max_message_bytes,
                     " bytes cannot hold a part of a record"));
  }
  const size_t part_bytes = max_message_bytes - kPartOverhead;
  const size_t count = (bytes.size() + part_bytes - 1) / part_bytes;
  absl::BitGen random;
  const std::string id = absl::StrCat(
      absl::Hex(absl::Uniform<uint64_t>(random), absl::kZeroPad16),
      absl::Hex(absl::Uniform<uint64_t>(random), absl::kZeroPad16));
  int64_t offset = -1;
  for (size_t i = 0; i < count; ++i) {
    v1::LogRecord part_record;
    v1::LogRecordPart* part = part_record.mutable_part();
    part->set_id(id);
    part->set_index(static_cast<uint32_t>(i));
    part->set_count(static_cast<uint32_t>(count));
    part->set_data(bytes.substr(i * part_bytes, part_bytes));
    ASSIGN_OR_RETURN(offset, producer.ProduceAndWait(
                                 topic, part_record.SerializeAsString()));
  }
  return offset;
}

absl::StatusOr<std::optional<v1::LogRecord>> PartAssembler::Add(
    const TopicPosition& position, const v1::LogRecordPart& part) {
  if (part.count() == 0 || part.index() >= part.count()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "part ", part.index(), " of ", part.count(), " of record ", part.id()));
  }
  auto it = pending_.find(part.id());
  if (part.index() == 0) {
    if (it != pending_.end()) pending_.erase(it);
    if (pending_.size() >= kMaxPending) {
      pending_.erase(std::min_element(
          pending_.begin(), pending_.end(), [](const auto& a, const auto& b) {
            return a.second.first.offset < b.second.first.offset;
          }));
    }
    it = pending_.emplace(part.id(), Pending{position, 0, {}}).first;
  } else if (it == pending_.end() || it->second.next_index != part.index()) {
    if (it != pending_.end()) pending_.erase(it);
    return absl::InvalidArgumentError(
        absl::StrCat("part ", part.index(), " of record ", part.id(),
                     " follows no part ", part.index() - 1));
  }
  Pending& pending = it->second;
  if (pending.data.size() + part.data().size() > kMaxSnapshotBytes) {
    pending_.erase(it);
    return absl::InvalidArgumentError(absl::StrCat(
        "record ", part.id(), " is over ", kMaxSnapshotBytes, " bytes"));
  }
  pending.data += part.data();
  if (++pending.next_index < part.count()) return std::nullopt;
  v1::LogRecord record;
  const bool parsed = record.ParseFromString(pending.data);
  pending_.erase(it);
  if (!parsed || record.has_part()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the parts of record ", part.id(),
                     " are not a streamfit.v1.LogRecord"));
  }
  return record;
}

std::optional<TopicPosition> PartAssembler::OldestPending() const {
  std::optional<TopicPosition> oldest;
  for (const auto& [id, pending] : pending_) {
    if (!oldest || pending.first.offset < oldest->offset) {
      oldest = pending.first;
    }
  }
  return oldest;
}

}  // namespace streamfit::kafka
