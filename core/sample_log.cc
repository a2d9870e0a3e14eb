#include "core/sample_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/crc32c.h"
#include "core/file_util.h"
#include "core/status_macros.h"
#include "core/thread_name.h"

namespace streamfit {
namespace {

constexpr absl::string_view kPrefix = "log-";
constexpr absl::string_view kSuffix = ".seg";
constexpr size_t kHeaderBytes = 8;          // length, crc
constexpr size_t kPayloadHeaderBytes = 16;  // start, features, count
constexpr uint32_t kMaxPayloadBytes = 1u << 30;

template <typename T>
void Put(std::string& out, const T& v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof(T));
}
template <typename T>
T Get(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// The bytes of a batch's dense part: features, labels, weights.
uint64_t DenseBytes(uint64_t n, uint64_t features) {
  return n * features * sizeof(float) + n * (sizeof(double) + sizeof(float));
}

// The bytes of a sparse section with m entries for n samples: m (u32),
// offsets (n + 1 x u32), hashes (m x u32), namespaces (m x u32), values
// (m x f32).
uint64_t SparseBytes(uint64_t n, uint64_t m) {
  return sizeof(uint32_t) * (1 + (n + 1)) + m * 3 * sizeof(uint32_t);
}

template <typename T>
void PutAll(std::string& out, const std::vector<T>& v) {
  out.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

template <typename T>
const char* GetAll(const char* p, size_t count, std::vector<T>& out) {
  out.resize(count);
  std::memcpy(out.data(), p, count * sizeof(T));
  return p + count * sizeof(T);
}

std::string EncodeRecord(uint64_t start_version, const ExampleBatch& batch) {
  const uint32_t n = static_cast<uint32_t>(batch.size());
  const bool sparse = !batch.sparse_offsets.empty();
  const uint32_t m = static_cast<uint32_t>(batch.sparse_hashes.size());
  const size_t payload_bytes = kPayloadHeaderBytes +
                               DenseBytes(n, batch.num_features) +
                               (sparse ? SparseBytes(n, m) : 0);
  // One buffer: the header (length, then the payload's CRC, filled in last)
  // and the payload after it.
  std::string record;
  record.reserve(kHeaderBytes + payload_bytes);
  Put(record, static_cast<uint32_t>(payload_bytes));
  Put(record, uint32_t{0});
  Put(record, start_version);
  Put(record, batch.num_features);
  Put(record, n);
  PutAll(record, batch.values);
  PutAll(record, batch.labels);
  PutAll(record, batch.weights);
  if (sparse) {
    Put(record, m);
    PutAll(record, batch.sparse_offsets);
    PutAll(record, batch.sparse_hashes);
    PutAll(record, batch.sparse_namespaces);
    PutAll(record, batch.sparse_values);
  }
  const uint32_t crc =
      Crc32cExtend(0, record.data() + kHeaderBytes, payload_bytes);
  std::memcpy(record.data() + sizeof(uint32_t), &crc, sizeof(crc));
  return record;
}

// One record parsed from a segment.
struct Parsed {
  uint64_t start_version = 0;
  ExampleBatch batch;
  size_t bytes = 0;  // header + payload
};

// Parses the record at data[pos]; an error describes why it is invalid.
absl::StatusOr<Parsed> ParseRecord(absl::string_view data, size_t pos,
                                   bool decode) {
  if (data.size() - pos < kHeaderBytes) {
    return absl::DataLossError("torn record header");
  }
  const uint32_t length = Get<uint32_t>(data.data() + pos);
  const uint32_t crc = Get<uint32_t>(data.data() + pos + 4);
  if (length < kPayloadHeaderBytes || length > kMaxPayloadBytes) {
    return absl::DataLossError(absl::StrCat("bad record length ", length));
  }
  if (data.size() - pos - kHeaderBytes < length) {
    return absl::DataLossError("torn record");
  }
  const char* p = data.data() + pos + kHeaderBytes;
  if (Crc32cExtend(0, p, length) != crc) {
    return absl::DataLossError("record checksum mismatch");
  }
  Parsed out;
  out.bytes = kHeaderBytes + length;
  out.start_version = Get<uint64_t>(p);
  const uint32_t features = Get<uint32_t>(p + 8);
  const uint32_t n = Get<uint32_t>(p + 12);
  // Bounds first, so the sizes below cannot overflow.
  if (n > length / 12 || (n > 0 && features > length / 4 / n)) {
    return absl::DataLossError("record length does not match its shape");
  }
  const uint64_t dense_end = kPayloadHeaderBytes + DenseBytes(n, features);
  // After the dense part, a sparse section or nothing (a record of a batch
  // without sparse features, as all records were before they existed).
  uint32_t m = 0;
  const bool sparse = length > dense_end;
  if (sparse && length >= dense_end + sizeof(uint32_t)) {
    m = Get<uint32_t>(p + dense_end);
  }
  if (length < dense_end ||
      (sparse && length != dense_end + SparseBytes(n, m))) {
    return absl::DataLossError("record length does not match its shape");
  }
  if (sparse) {  // offsets: from 0, non-decreasing, up to m
    const char* offsets = p + dense_end + sizeof(uint32_t);
    uint32_t previous = 0;
    for (uint64_t i = 0; i <= n; ++i) {
      const uint32_t at = Get<uint32_t>(offsets + i * sizeof(uint32_t));
      if (at < previous || (i == 0 && at != 0) || (i == n && at != m)) {
        return absl::DataLossError("record has bad sparse offsets");
      }
      previous = at;
    }
  }
  out.batch.num_features = features;
  if (!decode) {
    out.batch.labels.resize(n);  // size() only
    return out;
  }
  const char* v = p + kPayloadHeaderBytes;
  v = GetAll(v, size_t{n} * features, out.batch.values);
  v = GetAll(v, n, out.batch.labels);
  v = GetAll(v, n, out.batch.weights);
  if (sparse) {
    v += sizeof(uint32_t);  // m
    v = GetAll(v, size_t{n} + 1, out.batch.sparse_offsets);
    v = GetAll(v, m, out.batch.sparse_hashes);
    v = GetAll(v, m, out.batch.sparse_namespaces);
    GetAll(v, m, out.batch.sparse_values);
  }
  return out;
}

absl::Status PWriteAll(int fd, absl::string_view data, uint64_t offset,
                       const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::pwrite(fd, data.data() + done, data.size() - done,
                               static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FileError(errno, absl::StrCat("write ", path));
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

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
    : dir_(std::move(dir)), options_(options) {}

absl::StatusOr<std::unique_ptr<SampleLog>> SampleLog::Open(
    const std::string& dir, const Options& options, LogOpenReport* report) {
  RETURN_IF_ERROR(CreateDirectoryDurably(dir));
  ASSIGN_OR_RETURN(std::vector<std::string> names,
                   ListFiles(dir, kPrefix, kSuffix));
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
      r.dropped_bytes += std::filesystem::file_size(path);
      ++r.dropped_segments;
      if (::unlink(path.c_str()) != 0) {
        return FileError(errno, absl::StrCat("remove ", path));
      }
      continue;
    }
    ASSIGN_OR_RETURN(const std::string data, ReadWholeFile(path));
    size_t pos = 0;
    uint64_t expected = named_start;
    while (pos < data.size()) {
      absl::StatusOr<Parsed> parsed = ParseRecord(data, pos, false);
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
        if (::truncate(path.c_str(), static_cast<off_t>(pos)) != 0) {
          return FileError(errno, absl::StrCat("truncate ", path));
        }
        int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
          ::fsync(fd);
          ::close(fd);
        }
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
      ::unlink(path.c_str());
      continue;
    }
    log->segments_.push_back({named_start, path});
  }
  if (cut) RETURN_IF_ERROR(SyncDirectory(dir));
  log->synced_version_ = log->end_version_;
  r.first_version = log->first_version_;
  r.end_version = log->end_version_;
  // Every policy has the thread: it also runs the final fsync at close.
  log->sync_thread_ = std::thread([l = log.get()] {
    NameThisThread("sf-log-sync");
    l->SyncLoop();
  });
  return log;
}

SampleLog::~SampleLog() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    wake_.Signal();
  }
  sync_thread_.join();  // fd_'s deleter closes the segment
}

absl::Status SampleLog::Replay(
    uint64_t from_version,
    const std::function<absl::Status(uint64_t, const ExampleBatch&)>& apply)
    const {
  std::vector<Segment> segments;
  uint64_t first, end;
  bool empty;
  {
    absl::MutexLock lock(&mu_);
    segments = segments_;
    first = first_version_;
    end = end_version_;
    empty = empty_;
  }
  if (empty || end <= from_version) return absl::OkStatus();
  if (first > from_version) {
    return absl::DataLossError(
        absl::StrCat("the log starts at version ", first, ", after version ",
                     from_version, ": the samples between are missing"));
  }
  for (size_t i = 0; i < segments.size(); ++i) {
    if (i + 1 < segments.size() &&
        segments[i + 1].start_version <= from_version) {
      continue;  // wholly before from_version
    }
    ASSIGN_OR_RETURN(const std::string data, ReadWholeFile(segments[i].path));
    size_t pos = 0;
    while (pos < data.size()) {
      absl::StatusOr<Parsed> parsed = ParseRecord(data, pos, true);
      if (!parsed.ok()) {
        return absl::DataLossError(absl::StrCat(
            segments[i].path,
            " changed since it was opened: ", parsed.status().message()));
      }
      pos += parsed->bytes;
      if (parsed->start_version + parsed->batch.size() <= from_version) {
        continue;
      }
      RETURN_IF_ERROR(apply(parsed->start_version, parsed->batch));
    }
  }
  return absl::OkStatus();
}

absl::Status SampleLog::StartSegment(uint64_t start_version) {
  const std::string path = absl::StrCat(
      dir_, "/", NumberedFileName(kPrefix, start_version, kSuffix));
  const int fd =
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return FileError(errno, absl::StrCat("create ", path));
  absl::Status synced = SyncDirectory(dir_);
  if (!synced.ok()) {
    ::close(fd);
    ::unlink(path.c_str());
    return synced;
  }
  if (fd_) {
    // The writer thread may hold the old descriptor for an fsync; it makes
    // its own copy, so closing ours here is safe only after syncing it.
    if (::fdatasync(*fd_) != 0) {
      const int e = errno;
      ::close(fd);
      ::unlink(path.c_str());
      return FileError(e, "fsync log segment");
    }
  }
  fd_ = std::shared_ptr<int>(new int(fd), [](int* p) {
    ::close(*p);
    delete p;
  });
  offset_ = 0;
  segments_.push_back({start_version, path});
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> SampleLog::Append(uint64_t start_version,
                                           const ExampleBatch& batch) {
  const std::string record = EncodeRecord(start_version, batch);
  absl::MutexLock lock(&mu_);
  if (!empty_ && start_version < end_version_) {
    return absl::InternalError(absl::StrCat("log append at version ",
                                            start_version, " behind its end ",
                                            end_version_));
  }
  if (!empty_ && start_version > end_version_) {
    // The model is ahead of the log: the old records are obsolete.
    fd_.reset();
    for (const Segment& s : segments_) ::unlink(s.path.c_str());
    segments_.clear();
    empty_ = true;
  }
  if (fd_ == nullptr || offset_ >= options_.segment_bytes) {
    RETURN_IF_ERROR(StartSegment(start_version));
  }
  absl::Status written =
      PWriteAll(*fd_, record, offset_, segments_.back().path);
  if (!written.ok()) {
    // Leave no partial record behind (the next record overwrites it anyway).
    (void)::ftruncate(*fd_, static_cast<off_t>(offset_));
    return written;
  }
  offset_ += record.size();
  if (empty_) {
    first_version_ = start_version;
    synced_version_ = start_version;
    empty_ = false;
  }
  end_version_ = start_version + batch.size();
  return end_version_;
}

void SampleLog::WhenDurable(uint64_t end_version,
                            absl::AnyInvocable<void(absl::Status)> done) {
  {
    absl::MutexLock lock(&mu_);
    if (options_.fsync.mode == FsyncPolicy::Mode::kAlways &&
        end_version > synced_version_ && !stopping_) {
      waiters_.emplace(end_version, std::move(done));
      wake_.Signal();
      return;
    }
  }
  done(absl::OkStatus());
}

uint64_t SampleLog::end_version() const {
  absl::MutexLock lock(&mu_);
  return end_version_;
}

absl::Status SampleLog::RemoveSegmentsBefore(uint64_t version) {
  absl::MutexLock lock(&mu_);
  size_t remove = 0;
  while (remove + 1 < segments_.size() &&
         segments_[remove + 1].start_version <= version) {
    ++remove;
  }
  for (size_t i = 0; i < remove; ++i) {
    if (::unlink(segments_[i].path.c_str()) != 0 && errno != ENOENT) {
      return FileError(errno, absl::StrCat("remove ", segments_[i].path));
    }
  }
  segments_.erase(segments_.begin(), segments_.begin() + remove);
  if (!segments_.empty()) first_version_ = segments_.front().start_version;
  return absl::OkStatus();
}

void SampleLog::SyncLoop() {
  const bool always = options_.fsync.mode == FsyncPolicy::Mode::kAlways;
  const bool interval = options_.fsync.mode == FsyncPolicy::Mode::kInterval;
  for (;;) {
    std::shared_ptr<int> fd;
    uint64_t target;
    bool last;
    {
      absl::MutexLock lock(&mu_);
      if (always) {
        while (!stopping_ && waiters_.empty()) wake_.Wait(&mu_);
      } else if (interval) {
        wake_.WaitWithTimeout(&mu_, options_.fsync.interval);
      } else {
        while (!stopping_) wake_.Wait(&mu_);
      }
      last = stopping_;
      fd = fd_;
      target = end_version_;
    }
    // One fsync covers every record written before it started: group commit.
    absl::Status status;
    if (fd != nullptr && ::fdatasync(*fd) != 0) {
      status = FileError(errno, "fsync log segment");
    }
    std::vector<absl::AnyInvocable<void(absl::Status)>> done;
    {
      absl::MutexLock lock(&mu_);
      if (status.ok()) synced_version_ = std::max(synced_version_, target);
      const uint64_t covered = status.ok() ? synced_version_ : target;
      auto end = last ? waiters_.end() : waiters_.upper_bound(covered);
      for (auto it = waiters_.begin(); it != end; ++it) {
        done.push_back(std::move(it->second));
      }
      waiters_.erase(waiters_.begin(), end);
    }
    for (auto& cb : done) cb(status);
    if (last) return;
  }
}

}  // namespace streamfit
