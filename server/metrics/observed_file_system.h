// A FileSystem that forwards every call to another and observes it:
//   streamfit_fsync_duration_seconds{kind}   each fsync (a file's Sync,
//                                            SyncDirectory), failed or not;
//                                            kind: sample_log, checkpoint,
//                                            manifest, dataset, retrain_job,
//                                            snapshot, other, directory
//   streamfit_disk_errors_total{op}          failed calls by operation
// and logs a failed call as a `disk.error` event, at most one per operation
// per `log_interval` (the next line says how many were left out). Answers
// that are outcomes rather than disk errors are not counted: NOT_FOUND (a
// missing file asked about) and a lock another process holds.
// Thread-safe; `base` and the registry must outlive it.
#ifndef STREAMFIT_SERVER_METRICS_OBSERVED_FILE_SYSTEM_H_
#define STREAMFIT_SERVER_METRICS_OBSERVED_FILE_SYSTEM_H_

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/storage/file_system.h"

namespace streamfit::metrics {

class ObservedFileSystem final : public FileSystem {
 public:
  struct Options {
    absl::Duration log_interval = absl::Seconds(10);
    std::function<absl::Time()> clock = [] { return absl::Now(); };
  };
  enum class Op {
    kOpen,
    kWrite,
    kSync,
    kTruncate,
    kRead,
    kSize,
    kRename,
    kRemove,
    kRemoveAll,
    kCreateDirectories,
    kSyncDirectory,
    kList,
    kLock,
  };
  static constexpr int kOps = 13;
  // The op label: "open", "write", "sync", ..., "sync_directory", "lock".
  static const char* OpName(Op op);
  // The kind label of a file's fsync, from its name and directory.
  static const char* FileKind(const std::string& path);

  ObservedFileSystem(FileSystem* base, prometheus::Registry& registry,
                     Options options);
  ObservedFileSystem(FileSystem* base, prometheus::Registry& registry)
      : ObservedFileSystem(base, registry, Options()) {}

  absl::StatusOr<std::unique_ptr<WritableFile>> OpenWritable(
      const std::string& path, bool truncate) override;
  absl::StatusOr<std::string> ReadFile(const std::string& path) override;
  absl::StatusOr<uint64_t> FileSize(const std::string& path) override;
  absl::Status Rename(const std::string& from, const std::string& to) override;
  absl::Status Remove(const std::string& path) override;
  absl::Status RemoveAll(const std::string& path) override;
  absl::Status CreateDirectories(const std::string& path) override;
  absl::Status SyncDirectory(const std::string& path) override;
  absl::StatusOr<std::vector<std::string>> ListDirectory(
      const std::string& dir) override;
  bool IsDirectory(const std::string& path) override;
  absl::StatusOr<std::unique_ptr<Lock>> LockFile(
      const std::string& path) override;

 private:
  class File;

  // Counts and logs `status` if it is a disk error; returns it.
  absl::Status Observe(Op op, const std::string& path,
                       const absl::Status& status);
  // Runs an fsync of the file kind `kind` (an index of the kinds), timing
  // it.
  absl::Status TimedSync(size_t kind,
                         const std::function<absl::Status()>& sync);

  FileSystem* const base_;
  const Options options_;
  // Looked up once: the hot calls touch no family.
  std::vector<prometheus::Histogram*> fsyncs_;  // by kind
  std::array<prometheus::Counter*, kOps> errors_;
  // Per op: when the next disk.error line may be written (ns since the
  // epoch) and the errors not logged since the last line.
  std::array<std::atomic<int64_t>, kOps> next_log_ns_{};
  std::array<std::atomic<uint64_t>, kOps> unlogged_{};
};

}  // namespace streamfit::metrics

#endif  // STREAMFIT_SERVER_METRICS_OBSERVED_FILE_SYSTEM_H_
