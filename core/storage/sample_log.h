// The per-model append-only log of accepted Observe batches, the truth: a
// model's state is a deterministic function of its base state, the log
// entries after it and its config.
#ifndef STREAMFIT_CORE_STORAGE_SAMPLE_LOG_H_
#define STREAMFIT_CORE_STORAGE_SAMPLE_LOG_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/model/example_batch.h"
#include "core/storage/file_system.h"
#include "core/storage/journal.h"
#include "core/storage/log_sync_pool.h"

namespace streamfit {

// When an appended record counts as durable (its ack may be sent):
// - kAlways: after an fsync that covers it. Loses nothing acknowledged, even
//   on power loss. Concurrent appends share one fsync (group commit).
// - kInterval: once written to the OS; a background fsync runs every
//   `interval`. A process crash loses nothing acknowledged; an OS crash or
//   power loss may lose the acks of the last `interval`.
// - kNever: once written to the OS, which flushes when it likes (Linux:
//   about 30 s). Process crash: nothing lost; OS crash: up to that window.
struct FsyncPolicy {
  enum class Mode { kAlways, kInterval, kNever };
  Mode mode = Mode::kAlways;
  absl::Duration interval = absl::Milliseconds(100);
};

// Parses "always", "never" or "interval:<ms>" (ms >= 1); INVALID_ARGUMENT
// otherwise.
absl::StatusOr<FsyncPolicy> ParseFsyncPolicy(absl::string_view text);

// What opening a log found: the valid records' version range, and what was
// cut from its tail (a torn or corrupt record and everything after it).
struct LogOpenReport {
  uint64_t first_version = 0;  // of the first valid record
  uint64_t end_version = 0;    // after the last valid record
  uint64_t records = 0;
  uint64_t dropped_bytes = 0;     // cut from the tail
  uint64_t dropped_segments = 0;  // whole segment files removed with it
  std::string dropped_reason;     // empty if nothing was dropped
};

// Segment files "log-<20-digit start version>.seg" in one directory hold
// records: payload length (u32), CRC-32C of the payload (u32), payload =
// start version (u64), feature count (u32), sample count n (u32), features
// (f32, row-major), labels (f64), weights (f32), then, only if the batch has
// sparse or named features, their entry count m (u32), offsets (n + 1 x u32),
// hashes, namespace hashes (m x u32 each) and values (m x f32); all
// little-endian. Records are contiguous: each starts at the version the
// previous one ended at.
//
// Open validates every record and cuts the log at the first bad one. New
// records always go to a new segment (rolled at `segment_bytes`). Append
// writes a record with pwrite (so a process crash after it returns loses
// nothing) and does no fsync itself; the background work (fsyncs of the
// segments and of the directory of a new one, per the policy, and the
// WhenDurable callbacks, in version order) runs in rounds on a LogSyncPool
// shared by many logs, one round of a log at a time.
//
// Failure contract (docs/ARCHITECTURE.md, "Disk faults"): a failed write
// refuses that record and leaves the log usable. A failed fsync (file or
// directory) fails the log: Append returns UNAVAILABLE from then on. Under
// kAlways the sync round then cuts the unsynced tail from the disk (the
// file is reopened, truncated to its last synced byte and fsynced; later
// segments are removed) so those records can never be replayed, and only
// then gives their waiters the error; Reopen() afterwards makes the log
// usable again at its durable end. If the disk refuses the cut too (after a
// few attempts), the waiters get UNKNOWN: whether those records survive a
// restart cannot be known. Under kInterval and kNever the records were
// acknowledged when written, so nothing is cut and the log stays failed
// until the process restarts and reopens it from what is on disk.
// Thread-safe.
class SampleLog final : public Journal, private LogSyncPool::Task {
 public:
  struct Options {
    FsyncPolicy fsync;
    uint64_t segment_bytes = 64 << 20;
    FileSystem* file_system = DefaultFileSystem();  // not owned
    // Runs the log's background work; null: DefaultLogSyncPool().
    std::shared_ptr<LogSyncPool> sync_pool;
  };

  // Opens (creating if missing) the log in `dir`, cutting a torn or corrupt
  // tail (the cut is durable before Open returns). `report` may be null.
  static absl::StatusOr<std::unique_ptr<SampleLog>> Open(const std::string& dir,
                                                         const Options& options,
                                                         LogOpenReport* report);
  // Fsyncs what was appended, runs the pending callbacks and closes.
  ~SampleLog() override;

  // Calls `apply` in order with every record holding samples in
  // (from_version, to_version], each with the version before its first
  // sample (which may be below from_version: the caller skips the samples
  // it has, and those past to_version). DATA_LOSS if the log starts after
  // from_version (a gap) while it holds anything past it. Stops at apply's
  // first error. While records are appended, only with to_version <=
  // end_version() (records past it may be half written).
  absl::Status Replay(
      uint64_t from_version,
      const std::function<absl::Status(uint64_t, const ExampleBatch&)>& apply,
      uint64_t to_version = UINT64_MAX) const;
  // The version of the log's first record's first sample minus one (0 if
  // the log is empty): Replay can start no earlier.
  uint64_t first_version() const;

  // Journal. Append with start_version != end_version() is only allowed
  // when start_version > end_version() (the model is ahead of the log, e.g.
  // after restoring a checkpoint past it): the old segments are removed and
  // the log restarts there. Errors: RESOURCE_EXHAUSTED (disk full) or
  // UNAVAILABLE (I/O error, read-only, or the log failed); the record is then
  // not in the log.
  absl::StatusOr<uint64_t> Append(uint64_t start_version,
                                  const ExampleBatch& batch) override;
  void WhenDurable(uint64_t end_version,
                   absl::AnyInvocable<void(absl::Status)> done) override;
  // See the failure contract above.
  absl::StatusOr<uint64_t> Reopen() override;

  uint64_t end_version() const;
  // OK, or why the log failed (until Reopen).
  absl::Status health() const;
  // Removes segment files whose records all end at or before `version`
  // (never the one being written).
  absl::Status RemoveSegmentsBefore(uint64_t version);

 private:
  struct Segment {
    uint64_t start_version = 0;
    std::string path;
    // Open for appending (the newest segment) or for a pending fsync; null
    // for segments found at Open and once fully synced.
    std::shared_ptr<FileSystem::WritableFile> file;
    uint64_t bytes = 0;         // written
    uint64_t synced_bytes = 0;  // durable
    uint64_t end_version = 0;   // after its last record
    bool dir_synced = true;     // its directory entry is durable
  };
  // A sync round's work on one segment, taken under mu_.
  struct SyncJob {
    std::string path;
    std::shared_ptr<FileSystem::WritableFile> file;
    uint64_t bytes = 0;
    uint64_t end_version = 0;
    bool sync_directory = false;
  };
  SampleLog(std::string dir, const Options& options);
  // LogSyncPool::Task: one round of background work.
  absl::Time Run() override { return SyncRound(/*closing=*/false); }
  // Fsyncs what is due, cuts a failed log's unsynced tail (kAlways) and runs
  // the callbacks that are ready; `closing` (the last round, run by the
  // destructor): fsyncs everything and settles every callback. Returns when
  // the next round is due (LogSyncPool::Task::Run).
  absl::Time SyncRound(bool closing);
  // Fsyncs `jobs` in order; returns the first error.
  absl::Status RunSyncJobs(const std::vector<SyncJob>& jobs);
  // Removes everything past the last synced byte from the disk; the log's
  // state follows once the cut is durable.
  absl::Status CutUnsyncedTail();
  // Takes the callbacks that can run now: up to synced_version_ with OK,
  // and, once `failed_waiters_status_` is set, every other one with it.
  std::vector<std::pair<absl::AnyInvocable<void(absl::Status)>, absl::Status>>
  TakeReadyWaiters(bool all) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Constant after construction.
  const std::string dir_;
  const Options options_;
  FileSystem* const fs_;
  const std::shared_ptr<LogSyncPool> pool_;
  // Failed attempts to cut the unsynced tail; used by sync rounds only,
  // which never overlap.
  int cut_attempts_ = 0;

  mutable absl::Mutex mu_;
  std::vector<Segment> segments_ ABSL_GUARDED_BY(mu_);  // by start version
  uint64_t first_version_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t end_version_ ABSL_GUARDED_BY(mu_) = 0;
  bool empty_ ABSL_GUARDED_BY(mu_) = true;
  uint64_t synced_version_ ABSL_GUARDED_BY(mu_) = 0;
  // Set by a failed fsync; cleared by Reopen.
  absl::Status failure_ ABSL_GUARDED_BY(mu_);
  // The unsynced tail has been cut from the disk (kAlways).
  bool cut_done_ ABSL_GUARDED_BY(mu_) = false;
  // What waiters past synced_version_ get once the failure is settled (the
  // failure after a cut, UNKNOWN if the cut was impossible); OK until then.
  absl::Status failed_waiters_status_ ABSL_GUARDED_BY(mu_);
  std::multimap<uint64_t, absl::AnyInvocable<void(absl::Status)>> waiters_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace streamfit

#endif  // STREAMFIT_CORE_STORAGE_SAMPLE_LOG_H_
