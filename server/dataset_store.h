// Uploaded datasets on disk: <dir>/<id>.data (the bytes as uploaded) and
// <id>.meta (a serialized v1::DatasetInfo). An upload is written to
// <dir>/tmp-*, fsynced, parsed and checksummed, and renamed only when
// complete; its .meta is written atomically after that, and a dataset exists
// once its .meta does, so a dataset is either wholly there or absent.
// Leftovers of a crash (temporary files, .data without .meta) are removed
// when the store opens. All file work goes through a FileSystem.
#ifndef STREAMFIT_SERVER_DATASET_STORE_H_
#define STREAMFIT_SERVER_DATASET_STORE_H_

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "core/data/dataset_reader.h"
#include "core/model/example_batch.h"
#include "core/storage/file_system.h"
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

// Thread-safe; no lock is held across file work. Every call may wait on the
// disk: call it off gRPC callback threads. File errors are FileError
// statuses (a full disk is RESOURCE_EXHAUSTED).
class DatasetStore {
 public:
  struct Options {
    std::string dir;                                // created if missing
    uint64_t max_bytes = 1ull << 30;                // per upload
    FileSystem* file_system = DefaultFileSystem();  // not owned
  };

  // One upload in progress. Not thread-safe (one stream feeds it). Its
  // temporary file is removed unless Finish succeeds.
  class Upload {
   public:
    ~Upload();
    // Appends a chunk. RESOURCE_EXHAUSTED past the size limit.
    absl::Status Append(absl::string_view chunk);
    uint64_t bytes() const { return bytes_; }
    // Checks the size and checksum against `spec` (DATA_LOSS), fsyncs and
    // parses the bytes (INVALID_ARGUMENT naming the line), then publishes
    // the dataset. On error nothing is published.
    absl::StatusOr<v1::DatasetInfo> Finish(
        const v1::UploadDatasetRequest& spec);

   private:
    friend class DatasetStore;
    Upload(DatasetStore* store, std::string temp_path,
           std::unique_ptr<FileSystem::WritableFile> file);

    DatasetStore* const store_;
    const std::string temp_path_;
    std::unique_ptr<FileSystem::WritableFile> file_;
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
  explicit DatasetStore(Options options)
      : options_(std::move(options)), fs_(options_.file_system) {}
  std::string PathOf(const std::string& id, absl::string_view ext) const;
  // Publishes the complete, fsynced upload at `temp_path` as `info`: its
  // .data by rename, then its .meta. The dataset as stored if it exists.
  // Sets `moved` once `temp_path` is renamed away.
  absl::StatusOr<v1::DatasetInfo> Publish(const std::string& temp_path,
                                          const v1::DatasetInfo& info,
                                          bool* moved);
  // Claims dataset `id` for a publish or a delete (waiting while another
  // holds it, without holding mu_ across its file work), and releases it.
  void Claim(const std::string& id);
  void Release(const std::string& id);

  const Options options_;
  FileSystem* const fs_;
  mutable absl::Mutex mu_;
  absl::CondVar released_;
  uint64_t next_temp_ ABSL_GUARDED_BY(mu_) = 0;
  std::set<std::string> claimed_ ABSL_GUARDED_BY(mu_);  // ids being changed
};

// OK if an upload's description is valid: a known format, and a name that
// is empty or follows ValidateName. INVALID_ARGUMENT naming the field.
absl::Status ValidateUploadSpec(const v1::UploadDatasetRequest& spec);

// OK if `id` could name a dataset ("ds-" and hex digits).
absl::Status ValidateDatasetId(absl::string_view id);

}  // namespace streamfit

#endif  // STREAMFIT_SERVER_DATASET_STORE_H_
