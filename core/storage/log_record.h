// The sample log's record format, a batch and its first version in one
// checksummed record:
//
//   header:  payload length (u32), CRC32C of the payload (u32)
//   payload: start version (u64), features (u32), n samples (u32),
//            features (n x features f32), labels (n f64), weights (n f32),
//            and, when any sample has sparse features, m (u32), offsets
//            (n + 1 u32), hashes, namespaces (m u32 each), values (m f32)
//
// little-endian, as the machine writes them. Pure functions: thread-safe.
#ifndef STREAMFIT_CORE_STORAGE_LOG_RECORD_H_
#define STREAMFIT_CORE_STORAGE_LOG_RECORD_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/model/example_batch.h"

namespace streamfit {

// The record of `batch`, whose first sample is version start_version + 1.
std::string EncodeLogRecord(uint64_t start_version, const ExampleBatch& batch);

// One record parsed from a segment.
struct ParsedLogRecord {
  uint64_t start_version = 0;
  ExampleBatch batch;  // without `decode`: its size() only
  size_t bytes = 0;    // header + payload
};

// Parses the record at data[pos], checking its length, checksum and shape;
// DATA_LOSS describes why it is invalid (torn, a bad checksum, sizes that
// do not match). With `decode` false only the batch's size is filled in.
absl::StatusOr<ParsedLogRecord> ParseLogRecord(absl::string_view data,
                                               size_t pos, bool decode);

}  // namespace streamfit

#endif  // STREAMFIT_CORE_STORAGE_LOG_RECORD_H_
