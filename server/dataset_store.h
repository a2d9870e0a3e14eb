// Uploaded datasets on disk: <dir>/<id>.data (the bytes as uploaded) and
// <id>.meta (a serialized v1::DatasetInfo). An upload is written to
// <dir>/tmp-*, parsed and checksummed, and renamed only when complete, so a
// dataset is either wholly there or absent; leftovers of a crash are removed
// when the store opens.
#ifndef STREAMFIT_SERVER_DATASET_STORE_H_
#define STREAMFIT_SERVER_DATASET_STORE_H_

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "core/dataset_reader.h"
#include "core/example_batch.h"
#include "streamfit/v1/streamfit.pb.h"

namespace streamfit {

// Parses a DATASET_FORMAT_EXAMPLES stream (varint length + v1.Example
// message, repeated) into dense examples; every example needs the first's
// feature count. INVALID_ARGUMENT names the message index (from 0) on a
// truncated or malformed message, unless skip_bad_rows (then counted).
absl::StatusOr<ParsedDataset> ParseExampleStream(absl::string_view bytes,
                                                 bool skip_bad_rows);

// Parses a stored dataset's bytes as `info` describes.
absl::StatusOr<ParsedDataset> ParseDatasetBytes(absl::string_view bytes,
                                                const v1::DatasetInfo& info);

// Thread-safe.
class DatasetStore {
 public:
  struct Options {
    std::string dir;                  // created if missing
    uint64_t max_bytes = 1ull << 30;  // per upload
  };

  // One upload in progress. Not thread-safe (one stream feeds it). Its
  // temporary file is removed unless Finish succeeds.
  class Upload {
   public:
    ~Upload();
    // Appends a chunk. RESOURCE_EXHAUSTED past the size limit.
    absl::Status Append(absl::string_view chunk);
    uint64_t bytes() const { return bytes_; }
    // Checks the size and checksum against `spec` (DATA_LOSS), parses the
    // bytes (INVALID_ARGUMENT naming the line), then publishes the dataset.
    absl::StatusOr<v1::DatasetInfo> Finish(
        const v1::UploadDatasetRequest& spec);

   private:
    friend class DatasetStore;
    Upload(DatasetStore* store, std::string temp_path, std::FILE* file);

    DatasetStore* const store_;
    const std::string temp_path_;
    std::FILE* file_;
    uint64_t bytes_ = 0;
    struct Sha;
    std::unique_ptr<Sha> sha_;
    bool done_ = false;
  };

  static absl::StatusOr<std::unique_ptr<DatasetStore>> Open(Options options);

  absl::StatusOr<std::unique_ptr<Upload>> BeginUpload();
  // NOT_FOUND for an unknown id.
  absl::StatusOr<v1::DatasetInfo> Get(const std::string& id) const;
  std::vector<v1::DatasetInfo> List() const;  // by id
  absl::Status Delete(const std::string& id);
  // Reads and parses a dataset.
  absl::StatusOr<ExampleBatch> Load(const std::string& id) const;

  uint64_t max_bytes() const { return options_.max_bytes; }

 private:
  explicit DatasetStore(Options options) : options_(std::move(options)) {}
  std::string PathOf(const std::string& id, absl::string_view ext) const;

  const Options options_;
  mutable absl::Mutex mu_;
  uint64_t next_temp_ ABSL_GUARDED_BY(mu_) = 0;
};

// OK if an upload's description is valid: a known format, and a name that
// is empty or follows ValidateName. INVALID_ARGUMENT naming the field.
absl::Status ValidateUploadSpec(const v1::UploadDatasetRequest& spec);

// OK if `id` could name a dataset ("ds-" and hex digits).
absl::Status ValidateDatasetId(absl::string_view id);

}  // namespace streamfit

#endif  // STREAMFIT_SERVER_DATASET_STORE_H_
