#include "server/metrics/observed_file_system.h"

#include <chrono>
#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/logging.h"

namespace streamfit::metrics {
namespace {

using Op = ObservedFileSystem::Op;

// The fsync kinds; "directory" (SyncDirectory) is last.
constexpr const char* kKinds[] = {"sample_log", "checkpoint",  "manifest",
                                  "dataset",    "retrain_job", "snapshot",
                                  "other",      "directory"};
constexpr size_t kDirectoryKind = std::size(kKinds) - 1;

size_t KindIndex(const char* kind) {
  for (size_t i = 0; i < std::size(kKinds); ++i) {
    if (kKinds[i] == kind) return i;
  }
  return kDirectoryKind - 1;  // other
}

const prometheus::Histogram::BucketBoundaries& FsyncBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
      0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
  return *buckets;
}

// A disk error, not an outcome the caller asked about.
bool IsDiskError(Op op, const absl::Status& status) {
  if (status.ok() || absl::IsNotFound(status)) return false;
  return !(op == Op::kLock && absl::IsFailedPrecondition(status));
}

}  // namespace

class ObservedFileSystem::File final : public FileSystem::WritableFile {
 public:
  File(ObservedFileSystem* fs, std::string path,
       std::unique_ptr<WritableFile> base)
      : fs_(fs),
        path_(std::move(path)),
        kind_(KindIndex(FileKind(path_))),
        base_(std::move(base)) {}

  absl::Status PWrite(uint64_t offset, absl::string_view data) override {
    return fs_->Observe(Op::kWrite, path_, base_->PWrite(offset, data));
  }
  absl::Status Sync() override {
    return fs_->Observe(Op::kSync, path_,
                        fs_->TimedSync(kind_, [&] { return base_->Sync(); }));
  }
  absl::Status Truncate(uint64_t size) override {
    return fs_->Observe(Op::kTruncate, path_, base_->Truncate(size));
  }

 private:
  ObservedFileSystem* const fs_;
  const std::string path_;
  const size_t kind_;
  const std::unique_ptr<WritableFile> base_;
};

const char* ObservedFileSystem::OpName(Op op) {
  static constexpr const char* kNames[kOps] = {
      "open",           "write",  "sync",   "truncate",   "read",
      "size",           "rename", "remove", "remove_all", "create_directories",
      "sync_directory", "list",   "lock"};
  return kNames[static_cast<int>(op)];
}

const char* ObservedFileSystem::FileKind(const std::string& path) {
  const size_t slash = path.rfind('/');
  const absl::string_view name =
      slash == std::string::npos ? absl::string_view(path)
                                 : absl::string_view(path).substr(slash + 1);
  const absl::string_view dir = slash == std::string::npos
                                    ? absl::string_view()
                                    : absl::string_view(path).substr(0, slash);
  if (absl::StartsWith(name, "log-")) return kKinds[0];
  if (absl::StrContains(name, ".ckpt")) return kKinds[1];
  if (absl::StartsWith(name, "MANIFEST")) return kKinds[2];
  if (absl::EndsWith(dir, "/datasets") || dir == "datasets") return kKinds[3];
  if (absl::EndsWith(dir, "/jobs") || dir == "jobs") return kKinds[4];
  if (absl::EndsWith(dir, "/snapshots") || dir == "snapshots") {
    return kKinds[5];
  }
  return kKinds[6];
}

ObservedFileSystem::ObservedFileSystem(FileSystem* base,
                                       prometheus::Registry& registry,
                                       Options options)
    : base_(base), options_(std::move(options)) {
  auto& fsyncs = prometheus::BuildHistogram()
                     .Name("streamfit_fsync_duration_seconds")
                     .Help(
                         "Seconds each fsync took (failed ones included), "
                         "by the kind of file synced")
                     .Register(registry);
  for (const char* kind : kKinds) {
    fsyncs_.push_back(&fsyncs.Add({{"kind", kind}}, FsyncBuckets()));
  }
  auto& errors = prometheus::BuildCounter()
                     .Name("streamfit_disk_errors_total")
                     .Help("File operations that failed, by operation")
                     .Register(registry);
  for (int op = 0; op < kOps; ++op) {
    errors_[op] = &errors.Add({{"op", OpName(static_cast<Op>(op))}});
  }
}

absl::Status ObservedFileSystem::TimedSync(
    size_t kind, const std::function<absl::Status()>& sync) {
  const auto start = std::chrono::steady_clock::now();
  absl::Status status = sync();
  fsyncs_[kind]->Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count());
  return status;
}

absl::Status ObservedFileSystem::Observe(Op op, const std::string& path,
                                         const absl::Status& status) {
  if (!IsDiskError(op, status)) return status;
  const int i = static_cast<int>(op);
  errors_[i]->Increment();
  const int64_t now = absl::ToUnixNanos(options_.clock());
  int64_t next = next_log_ns_[i].load(std::memory_order_relaxed);
  if (now < next ||
      !next_log_ns_[i].compare_exchange_strong(
          next, now + absl::ToInt64Nanoseconds(options_.log_interval),
          std::memory_order_relaxed)) {
    unlogged_[i].fetch_add(1, std::memory_order_relaxed);
    return status;
  }
  logging::Error(
      "disk.error",
      absl::StrCat(OpName(op), " of ", path, " failed: ", status.ToString()),
      {{"op", OpName(op)},
       {"path", path},
       {"code", absl::StatusCodeToString(status.code())},
       {"unlogged", unlogged_[i].exchange(0, std::memory_order_relaxed)}});
  return status;
}

absl::StatusOr<std::unique_ptr<FileSystem::WritableFile>>
ObservedFileSystem::OpenWritable(const std::string& path, bool truncate) {
  auto file = base_->OpenWritable(path, truncate);
  if (!file.ok()) return Observe(Op::kOpen, path, file.status());
  return std::unique_ptr<WritableFile>(new File(this, path, *std::move(file)));
}

absl::StatusOr<std::string> ObservedFileSystem::ReadFile(
    const std::string& path) {
  auto data = base_->ReadFile(path);
  if (!data.ok()) return Observe(Op::kRead, path, data.status());
  return data;
}

absl::StatusOr<uint64_t> ObservedFileSystem::FileSize(const std::string& path) {
  auto size = base_->FileSize(path);
  if (!size.ok()) return Observe(Op::kSize, path, size.status());
  return size;
}

absl::Status ObservedFileSystem::Rename(const std::string& from,
                                        const std::string& to) {
  return Observe(Op::kRename, to, base_->Rename(from, to));
}

absl::Status ObservedFileSystem::Remove(const std::string& path) {
  return Observe(Op::kRemove, path, base_->Remove(path));
}

absl::Status ObservedFileSystem::RemoveAll(const std::string& path) {
  return Observe(Op::kRemoveAll, path, base_->RemoveAll(path));
}

absl::Status ObservedFileSystem::CreateDirectories(const std::string& path) {
  return Observe(Op::kCreateDirectories, path, base_->CreateDirectories(path));
}

absl::Status ObservedFileSystem::SyncDirectory(const std::string& path) {
  return Observe(Op::kSyncDirectory, path, TimedSync(kDirectoryKind, [&] {
                   return base_->SyncDirectory(path);
                 }));
}

absl::StatusOr<std::vector<std::string>> ObservedFileSystem::ListDirectory(
    const std::string& dir) {
  auto names = base_->ListDirectory(dir);
  if (!names.ok()) return Observe(Op::kList, dir, names.status());
  return names;
}

bool ObservedFileSystem::IsDirectory(const std::string& path) {
  return base_->IsDirectory(path);
}

absl::StatusOr<std::unique_ptr<FileSystem::Lock>> ObservedFileSystem::LockFile(
    const std::string& path) {
  auto lock = base_->LockFile(path);
  if (!lock.ok()) return Observe(Op::kLock, path, lock.status());
  return lock;
}

}  // namespace streamfit::metrics
