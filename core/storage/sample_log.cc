#include "core/storage/sample_log.h"

#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "core/storage/file_util.h"
#include "core/storage/log_record.h"

namespace streamfit {
namespace {

constexpr absl::string_view kPrefix = "log-";
constexpr absl::string_view kSuffix = ".seg";

}  // namespace

absl::StatusOr<FsyncPolicy> ParseFsyncPolicy(absl::string_view text) {
  FsyncPolicy policy;
  int64_t ms = 0;
  if (text == "always") {
    policy.mode = FsyncPolicy::Mode::kAlways;
  } else if (text == "never") {
    policy.mode = FsyncPolicy::Mode::kNever;
  } else if (absl::StartsWith(text, "interval:") &&
             absl::SimpleAtoi(text.substr(9), &ms) && ms >= 1) {
    policy.mode = FsyncPolicy::Mode::kInterval;
    policy.interval = absl::Milliseconds(ms);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("fsync policy must be always, never or interval:<ms> "
                     "with ms >= 1, got '",
                     text, "'"));
  }
  return policy;
}

SampleLog::SampleLog(std::string dir, const Options& options)
    : dir_(std::move(dir)),
      options_(options),
      fs_(options.file_system),
      pool_(options.sync_pool != nullptr ? options.sync_pool
                                         : DefaultLogSyncPool()) {}

absl::StatusOr<std::unique_ptr<SampleLog>> SampleLog::Open(
    const std::string& dir, const Options& options, LogOpenReport* report) {
  FileSystem* const fs = options.file_system;
  RETURN_IF_ERROR(CreateDirectoryDurably(dir, fs));
  ASSIGN_OR_RETURN(std::vector<std::string> names,
                   ListFiles(dir, kPrefix, kSuffix, fs));
  std::unique_ptr<SampleLog> log(new SampleLog(dir, options));
  LogOpenReport local;
  LogOpenReport& r = report ? *report : local;
  r = LogOpenReport();
  absl::MutexLock lock(&log->mu_);
  bool cut = false;
  for (const std::string& name : names) {
    const std::string path = absl::StrCat(dir, "/", name);
    uint64_t named_start = 0;
    if (cut || !ParseNumberedFileName(name, kPrefix, kSuffix, &named_start) ||
        (!log->empty_ && named_start != log->end_version_)) {
      if (!cut) {
        r.dropped_reason = absl::StrCat(
            name, ": does not continue the log at version ", log->end_version_);
      }
      cut = true;
      absl::StatusOr<uint64_t> size = fs->FileSize(path);
      if (size.ok()) r.dropped_bytes += *size;
      ++r.dropped_segments;
      RETURN_IF_ERROR(fs->Remove(path));
      continue;
    }
    ASSIGN_OR_RETURN(const std::string data, fs->ReadFile(path));
    size_t pos = 0;
    uint64_t expected = named_start;
    while (pos < data.size()) {
      absl::StatusOr<ParsedLogRecord> parsed = ParseLogRecord(data, pos, false);
      absl::Status bad = parsed.status();
      if (parsed.ok() && parsed->start_version != expected) {
        bad = absl::DataLossError(absl::StrCat("record starts at version ",
                                               parsed->start_version,
                                               ", expected ", expected));
      }
      if (!bad.ok()) {
        cut = true;
        r.dropped_reason =
            absl::StrCat(name, " at byte ", pos, ": ", bad.message());
        r.dropped_bytes += data.size() - pos;
        ASSIGN_OR_RETURN(std::unique_ptr<FileSystem::WritableFile> file,
                         fs->OpenWritable(path, /*truncate=*/false));
        RETURN_IF_ERROR(file->Truncate(pos));
        RETURN_IF_ERROR(file->Sync());
        break;
      }
      if (log->empty_) log->first_version_ = named_start;
      log->empty_ = false;
      expected += parsed->batch.size();
      log->end_version_ = expected;
      ++r.records;
      pos += parsed->bytes;
    }
    if (pos == 0) {  // no valid record: the file holds nothing
      (void)fs->Remove(path);
      continue;
    }
    Segment segment;
    segment.start_version = named_start;
    segment.path = path;
    segment.bytes = segment.synced_bytes = pos;
    segment.end_version = expected;
    log->segments_.push_back(std::move(segment));
  }
  if (cut) RETURN_IF_ERROR(SyncDirectory(dir, fs));
  log->synced_version_ = log->end_version_;
  r.first_version = log->first_version_;
  r.end_version = log->end_version_;
  log->pool_->Add(log.get(),
                  log->options_.fsync.mode == FsyncPolicy::Mode::kInterval
                      ? absl::Now() + log->options_.fsync.interval
                      : absl::InfiniteFuture());
  return log;
}

SampleLog::~SampleLog() {
  pool_->Remove(this);
  SyncRound(/*closing=*/true);
}

absl::Status SampleLog::Replay(
    uint64_t from_version,
    const std::function<absl::Status(uint64_t, const ExampleBatch&)>& apply,
    uint64_t to_version) const {
  std::vector<std::string> paths;
  std::vector<uint64_t> starts;
  uint64_t first, end;
  bool empty;
  {
    absl::MutexLock lock(&mu_);
    for (const Segment& s : segments_) {
      paths.push_back(s.path);
      starts.push_back(s.start_version);
    }
    first = first_version_;
    end = end_version_;
    empty = empty_;
  }
  if (empty || end <= from_version || to_version <= from_version) {
    return absl::OkStatus();
  }
  if (first > from_version) {
    return absl::DataLossError(
        absl::StrCat("the log starts at version ", first, ", after version ",
                     from_version, ": the samples between are missing"));
  }
  for (size_t i = 0; i < paths.size(); ++i) {
    if (i + 1 < paths.size() && starts[i + 1] <= from_version) {
      continue;  // wholly before from_version
    }
    ASSIGN_OR_RETURN(const std::string data, fs_->ReadFile(paths[i]));
    size_t pos = 0;
    while (pos < data.size()) {
      absl::StatusOr<ParsedLogRecord> parsed = ParseLogRecord(data, pos, true);
      if (!parsed.ok()) {
        return absl::DataLossError(absl::StrCat(
            paths[i],
            " changed since it was opened: ", parsed.status().message()));
      }
      pos += parsed->bytes;
      if (parsed->start_version + parsed->batch.size() <= from_version) {
        continue;
      }
      RETURN_IF_ERROR(apply(parsed->start_version, parsed->batch));
      if (parsed->start_version + parsed->batch.size() >= to_version) {
        return absl::OkStatus();
      }
    }
  }
  return absl::OkStatus();
}

uint64_t SampleLog::first_version() const {
  absl::MutexLock lock(&mu_);
  return empty_ ? 0 : first_version_;
}

absl::StatusOr<uint64_t> SampleLog::Append(uint64_t start_version,
                                           const ExampleBatch& batch) {
  const std::string record = EncodeLogRecord(start_version, batch);
  absl::MutexLock lock(&mu_);
  if (!failure_.ok()) {
    return absl::UnavailableError(absl::StrCat(
        "the model's sample log failed and is not accepting samples until it "
        "is reopened from what is on disk: ",
        failure_.message()));
  }
  if (!empty_ && start_version < end_version_) {
    return absl::InternalError(absl::StrCat("log append at version ",
                                            start_version, " behind its end ",
                                            end_version_));
  }
  if (!empty_ && start_version > end_version_) {
    // The model is ahead of the log: the old records are obsolete. The new
    // segment's directory fsync makes their removal durable.
    for (const Segment& s : segments_) (void)fs_->Remove(s.path);
    segments_.clear();
    empty_ = true;
  }
  if (segments_.empty() || segments_.back().file == nullptr ||
      segments_.back().bytes >= options_.segment_bytes) {
    // Roll: only the file's creation happens here; the sync thread makes its
    // directory entry durable (and fsyncs the old segment) before any record
    // in it is acknowledged.
    const std::string path = absl::StrCat(
        dir_, "/", NumberedFileName(kPrefix, start_version, kSuffix));
    ASSIGN_OR_RETURN(std::unique_ptr<FileSystem::WritableFile> file,
                     fs_->OpenWritable(path, /*truncate=*/true));
    Segment segment;
    segment.start_version = start_version;
    segment.path = path;
    segment.file = std::move(file);
    segment.end_version = start_version;
    segment.dir_synced = false;
    segments_.push_back(std::move(segment));
  }
  Segment& active = segments_.back();
  absl::Status written = active.file->PWrite(active.bytes, record);
  if (!written.ok()) {
    // Leave no partial record behind (the next record overwrites it anyway,
    // and Open cuts a torn one).
    (void)active.file->Truncate(active.bytes);
    return written;
  }
  active.bytes += record.size();
  active.end_version = start_version + batch.size();
  if (empty_) {
    first_version_ = start_version;
    synced_version_ = start_version;
    empty_ = false;
  }
  end_version_ = active.end_version;
  return end_version_;
}

void SampleLog::WhenDurable(uint64_t end_version,
                            absl::AnyInvocable<void(absl::Status)> done) {
  absl::Status status;
  {
    absl::MutexLock lock(&mu_);
    const bool always = options_.fsync.mode == FsyncPolicy::Mode::kAlways;
    if (always && end_version > synced_version_ &&
        failed_waiters_status_.ok()) {
      waiters_.emplace(end_version, std::move(done));
      done = nullptr;
    } else if (always && end_version > synced_version_) {
      status = failed_waiters_status_;
    }
  }
  if (done == nullptr) {
    pool_->Wake(this);  // the next round's fsync covers it
  } else {
    done(status);
  }
}

absl::StatusOr<uint64_t> SampleLog::Reopen() {
  uint64_t end;
  {
    absl::MutexLock lock(&mu_);
    if (failure_.ok()) return end_version_;
    if (!cut_done_) {
      return absl::UnavailableError(absl::StrCat(
          "the sample log failed and its unsynced tail is not cut yet: ",
          failure_.message()));
    }
    failure_ = absl::OkStatus();
    failed_waiters_status_ = absl::OkStatus();
    cut_done_ = false;
    end = end_version_;
  }
  pool_->Wake(this);
  return end;
}

uint64_t SampleLog::end_version() const {
  absl::MutexLock lock(&mu_);
  return end_version_;
}

absl::Status SampleLog::health() const {
  absl::MutexLock lock(&mu_);
  return failure_;
}

absl::Status SampleLog::RemoveSegmentsBefore(uint64_t version) {
  absl::MutexLock lock(&mu_);
  size_t remove = 0;
  while (remove + 1 < segments_.size() &&
         segments_[remove + 1].start_version <= version) {
    ++remove;
  }
  for (size_t i = 0; i < remove; ++i) {
    absl::Status removed = fs_->Remove(segments_[i].path);
    if (!removed.ok() && !absl::IsNotFound(removed)) return removed;
  }
  segments_.erase(segments_.begin(), segments_.begin() + remove);
  if (!segments_.empty()) first_version_ = segments_.front().start_version;
  return absl::OkStatus();
}

std::vector<std::pair<absl::AnyInvocable<void(absl::Status)>, absl::Status>>
SampleLog::TakeReadyWaiters(bool all) {
  std::vector<std::pair<absl::AnyInvocable<void(absl::Status)>, absl::Status>>
      ready;
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    absl::Status status;
    if (it->first > synced_version_) {
      if (failed_waiters_status_.ok() && !all) break;
      status = failed_waiters_status_.ok() ? absl::UnavailableError(
                                                 "the sample log closed before "
                                                 "these samples were durable")
                                           : failed_waiters_status_;
    }
    ready.emplace_back(std::move(it->second), std::move(status));
    it = waiters_.erase(it);
  }
  return ready;
}

absl::Status SampleLog::RunSyncJobs(const std::vector<SyncJob>& jobs) {
  for (const SyncJob& job : jobs) {
    if (job.sync_directory) RETURN_IF_ERROR(SyncDirectory(dir_, fs_));
    if (job.file != nullptr) RETURN_IF_ERROR(job.file->Sync());
    absl::MutexLock lock(&mu_);
    for (Segment& s : segments_) {
      if (s.path != job.path) continue;
      s.dir_synced = true;
      s.synced_bytes = std::max(s.synced_bytes, job.bytes);
      // A fully synced segment that is no longer appended to is closed.
      if (s.synced_bytes == s.bytes && &s != &segments_.back()) s.file.reset();
    }
    synced_version_ = std::max(synced_version_, job.end_version);
  }
  return absl::OkStatus();
}

absl::Status SampleLog::CutUnsyncedTail() {
  // The segments past the first unsynced byte: the first is truncated there
  // (removed if nothing of it is synced), the later ones removed.
  std::vector<Segment> tail;
  {
    absl::MutexLock lock(&mu_);
    size_t i = 0;
    while (i < segments_.size() && segments_[i].dir_synced &&
           segments_[i].synced_bytes == segments_[i].bytes) {
      ++i;
    }
    for (size_t j = i; j < segments_.size(); ++j) {
      Segment copy;
      copy.path = segments_[j].path;
      copy.synced_bytes =
          segments_[j].dir_synced ? segments_[j].synced_bytes : 0;
      tail.push_back(std::move(copy));
    }
  }
  for (size_t j = 0; j < tail.size(); ++j) {
    if (j == 0 && tail[j].synced_bytes > 0) {
      // Reopened: the old descriptor's page cache state is not trusted.
      ASSIGN_OR_RETURN(std::unique_ptr<FileSystem::WritableFile> file,
                       fs_->OpenWritable(tail[j].path, /*truncate=*/false));
      RETURN_IF_ERROR(file->Truncate(tail[j].synced_bytes));
      RETURN_IF_ERROR(file->Sync());
    } else {
      absl::Status removed = fs_->Remove(tail[j].path);
      if (!removed.ok() && !absl::IsNotFound(removed)) return removed;
    }
  }
  RETURN_IF_ERROR(SyncDirectory(dir_, fs_));
  absl::MutexLock lock(&mu_);
  // The on-disk log now ends at synced_version_: drop what the cut removed.
  while (!segments_.empty()) {
    Segment& last = segments_.back();
    if (last.dir_synced && last.synced_bytes > 0) break;
    segments_.pop_back();
  }
  if (!segments_.empty()) {
    Segment& last = segments_.back();
    last.bytes = last.synced_bytes;
    last.file.reset();  // the next record starts a new segment
    // Its end is the synced version: records are contiguous and synced in
    // order, so the last synced byte ends the last synced record.
    last.end_version = synced_version_;
  } else {
    empty_ = true;
  }
  end_version_ = synced_version_;
  cut_done_ = true;
  return absl::OkStatus();
}

absl::Time SampleLog::SyncRound(bool closing) {
  const FsyncPolicy::Mode mode = options_.fsync.mode;
  const bool always = mode == FsyncPolicy::Mode::kAlways;
  constexpr int kCutAttempts = 5;
  constexpr absl::Duration kCutRetry = absl::Milliseconds(200);
  std::vector<SyncJob> jobs;
  bool cut = false;
  {
    absl::MutexLock lock(&mu_);
    if (!failure_.ok()) {
      // A failed log syncs nothing more. Under kAlways it cuts its tail
      // (retrying every kCutRetry) until that is settled; then it waits for
      // Reopen.
      cut = always && failed_waiters_status_.ok() && !cut_done_;
    } else if (closing || mode == FsyncPolicy::Mode::kInterval ||
               (always && !waiters_.empty())) {
      for (const Segment& s : segments_) {
        if (s.dir_synced && s.synced_bytes == s.bytes) continue;
        jobs.push_back({s.path, s.bytes > s.synced_bytes ? s.file : nullptr,
                        s.bytes, s.end_version, !s.dir_synced});
      }
    }
  }
  // One fsync covers every record written before it started: group commit.
  if (!jobs.empty()) {
    absl::Status synced = RunSyncJobs(jobs);
    if (!synced.ok()) {
      absl::MutexLock lock(&mu_);
      failure_ = synced;
      if (!always) failed_waiters_status_ = synced;
      cut = always;
    }
  }
  bool retry_cut = false;
  if (cut) {
    const absl::Status cut_status = CutUnsyncedTail();
    ++cut_attempts_;
    absl::MutexLock lock(&mu_);
    if (cut_status.ok()) {
      failed_waiters_status_ = failure_;
      cut_attempts_ = 0;
    } else if (cut_attempts_ >= kCutAttempts || closing) {
      failed_waiters_status_ = absl::UnknownError(absl::StrCat(
          "an fsync failed (", failure_.message(),
          ") and so did cutting the unsynced records from the disk (",
          cut_status.message(),
          "): whether these samples survive a restart is unknown"));
    } else {
      retry_cut = true;
    }
  }
  std::vector<std::pair<absl::AnyInvocable<void(absl::Status)>, absl::Status>>
      ready;
  {
    absl::MutexLock lock(&mu_);
    ready = TakeReadyWaiters(closing);
  }
  for (auto& [cb, status] : ready) cb(std::move(status));
  if (retry_cut) return absl::Now() + kCutRetry;
  if (mode == FsyncPolicy::Mode::kInterval) {
    return absl::Now() + options_.fsync.interval;
  }
  // kAlways: WhenDurable wakes the next round; kNever: only closing syncs.
  return absl::InfiniteFuture();
}

}  // namespace streamfit
