// A FileSystem for tests that forwards to the real one and injects faults:
// an errno (EIO, ENOSPC, ...) for the n next calls of an operation on paths
// holding a substring, a short write (part of the data written, then the
// error), a delay on every call (a slow disk), or a hook that runs before
// every call (to hold a step until the test lets it go), or a crash point
// (the process "dies" at a chosen call that changes the disk: nothing
// reaches the disk from then on).
#ifndef STREAMFIT_TESTS_TESTING_FAULT_FILE_SYSTEM_H_
#define STREAMFIT_TESTS_TESTING_FAULT_FILE_SYSTEM_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/storage/file_system.h"
#include "core/storage/file_util.h"

namespace streamfit::testing {

// Returns the injected fault of a call, if any (inside FaultFileSystem).
#define STREAMFIT_RETURN_FAULT(op, path)                      \
  do {                                                        \
    if (absl::Status s = Check(op, path, nullptr); !s.ok()) { \
      return s;                                               \
    }                                                         \
  } while (false)

// Thread-safe.
class FaultFileSystem final : public FileSystem {
 public:
  enum class Op {
    kOpen,
    kWrite,
    kSync,  // a file's fsync
    kTruncate,
    kRead,
    kRename,
    kRemove,
    kCreateDirectory,
    kSyncDirectory,
    kList,
  };
  struct Fault {
    Op op;
    std::string path_contains;  // empty: any path
    bool exact = false;         // path_contains is the whole path
    int error = EIO;
    int times = 1;  // calls that fail; -1: every call from now on
    // kWrite only: write this many bytes of the data before failing.
    size_t partial_bytes = 0;
  };

  explicit FaultFileSystem(FileSystem* base = DefaultFileSystem())
      : base_(base) {}

  void Inject(Fault fault) {
    absl::MutexLock lock(&mu_);
    faults_.push_back(std::move(fault));
  }
  // Every call of `op` sleeps `delay` first (zero: none).
  void SetDelay(Op op, absl::Duration delay) {
    absl::MutexLock lock(&mu_);
    delays_[op] = delay;
  }
  // Runs before every call, with its op and path, outside the file
  // system's lock (null: none).
  using Hook = std::function<void(Op, const std::string&)>;
  void SetHook(Hook hook) {
    absl::MutexLock lock(&mu_);
    hook_ = std::make_shared<Hook>(std::move(hook));
  }
  // Simulates the process dying just before the `n`-th next call that
  // changes the disk (opening a file for writing, a write, an fsync, a
  // truncate, a rename, a removal, a directory creation or fsync; n >= 1):
  // that call and every later call fails with EIO and does nothing, so the
  // disk keeps exactly what the process did before it, as after kill -9.
  void CrashAt(int n) {
    absl::MutexLock lock(&mu_);
    crash_countdown_ = n;
  }
  bool crashed() const {
    absl::MutexLock lock(&mu_);
    return crashed_;
  }
  // Calls that changed (or tried to change) the disk so far.
  int DiskChanges() const {
    absl::MutexLock lock(&mu_);
    return disk_changes_;
  }
  // Removes every fault, delay, hook and crash point.
  void Clear() {
    absl::MutexLock lock(&mu_);
    faults_.clear();
    delays_.clear();
    hook_.reset();
    crash_countdown_ = 0;
    crashed_ = false;
  }
  // Calls of `op` so far (failed ones included).
  int Calls(Op op) const {
    absl::MutexLock lock(&mu_);
    auto it = calls_.find(op);
    return it == calls_.end() ? 0 : it->second;
  }
  // Calls that a fault failed, by the fault's op and path_contains.
  int Hits(Op op, const std::string& path_contains) const {
    absl::MutexLock lock(&mu_);
    auto it = hits_.find({op, path_contains});
    return it == hits_.end() ? 0 : it->second;
  }
  // Injected faults not yet used up.
  int PendingFaults() const {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(faults_.size());
  }

  absl::StatusOr<std::unique_ptr<WritableFile>> OpenWritable(
      const std::string& path, bool truncate) override {
    STREAMFIT_RETURN_FAULT(Op::kOpen, path);
    auto file = base_->OpenWritable(path, truncate);
    if (!file.ok()) return file.status();
    return std::unique_ptr<WritableFile>(
        new File(this, path, *std::move(file)));
  }
  absl::StatusOr<std::string> ReadFile(const std::string& path) override {
    STREAMFIT_RETURN_FAULT(Op::kRead, path);
    return base_->ReadFile(path);
  }
  absl::StatusOr<uint64_t> FileSize(const std::string& path) override {
    STREAMFIT_RETURN_FAULT(Op::kRead, path);
    return base_->FileSize(path);
  }
  absl::Status Rename(const std::string& from, const std::string& to) override {
    STREAMFIT_RETURN_FAULT(Op::kRename, to);
    return base_->Rename(from, to);
  }
  absl::Status Remove(const std::string& path) override {
    STREAMFIT_RETURN_FAULT(Op::kRemove, path);
    return base_->Remove(path);
  }
  absl::Status RemoveAll(const std::string& path) override {
    STREAMFIT_RETURN_FAULT(Op::kRemove, path);
    return base_->RemoveAll(path);
  }
  absl::Status CreateDirectories(const std::string& path) override {
    STREAMFIT_RETURN_FAULT(Op::kCreateDirectory, path);
    return base_->CreateDirectories(path);
  }
  absl::Status SyncDirectory(const std::string& path) override {
    STREAMFIT_RETURN_FAULT(Op::kSyncDirectory, path);
    return base_->SyncDirectory(path);
  }
  absl::StatusOr<std::vector<std::string>> ListDirectory(
      const std::string& dir) override {
    STREAMFIT_RETURN_FAULT(Op::kList, dir);
    return base_->ListDirectory(dir);
  }
  bool IsDirectory(const std::string& path) override {
    return base_->IsDirectory(path);
  }
  absl::StatusOr<std::unique_ptr<Lock>> LockFile(
      const std::string& path) override {
    return base_->LockFile(path);
  }

 private:
  class File final : public WritableFile {
   public:
    File(FaultFileSystem* fs, std::string path,
         std::unique_ptr<WritableFile> base)
        : fs_(fs), path_(std::move(path)), base_(std::move(base)) {}
    absl::Status PWrite(uint64_t offset, absl::string_view data) override {
      size_t partial = 0;
      if (absl::Status s = fs_->Check(Op::kWrite, path_, &partial); !s.ok()) {
        if (partial > 0) {
          (void)base_->PWrite(offset, data.substr(0, partial));
        }
        return s;
      }
      return base_->PWrite(offset, data);
    }
    absl::Status Sync() override {
      if (absl::Status s = fs_->Check(Op::kSync, path_, nullptr); !s.ok()) {
        return s;
      }
      return base_->Sync();
    }
    absl::Status Truncate(uint64_t size) override {
      if (absl::Status s = fs_->Check(Op::kTruncate, path_, nullptr); !s.ok()) {
        return s;
      }
      return base_->Truncate(size);
    }

   private:
    FaultFileSystem* const fs_;
    const std::string path_;
    const std::unique_ptr<WritableFile> base_;
  };

  // Counts the call, sleeps its delay, and returns the injected error if a
  // fault matches (using one of its times up).
  absl::Status Check(Op op, const std::string& path, size_t* partial) {
    absl::Duration delay;
    absl::Status status;
    std::shared_ptr<Hook> hook;
    {
      absl::MutexLock lock(&mu_);
      ++calls_[op];
      delay = delays_[op];
      hook = hook_;
      if (op != Op::kRead && op != Op::kList) {
        ++disk_changes_;
        if (crash_countdown_ > 0 && --crash_countdown_ == 0) crashed_ = true;
      }
      if (crashed_) return FileError(EIO, "the process crashed (simulated)");
      for (auto it = faults_.begin(); it != faults_.end(); ++it) {
        if (it->op != op ||
            !(it->exact ? path == it->path_contains
                        : absl::StrContains(path, it->path_contains))) {
          continue;
        }
        ++hits_[{op, it->path_contains}];
        status = FileError(it->error, absl::StrCat("injected fault on ", path));
        if (partial != nullptr) *partial = it->partial_bytes;
        if (it->times > 0 && --it->times == 0) faults_.erase(it);
        break;
      }
    }
    if (hook != nullptr && *hook) (*hook)(op, path);
    if (delay > absl::ZeroDuration()) absl::SleepFor(delay);
    return status;
  }

  FileSystem* const base_;
  mutable absl::Mutex mu_;
  std::vector<Fault> faults_ ABSL_GUARDED_BY(mu_);
  std::map<Op, absl::Duration> delays_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<Hook> hook_ ABSL_GUARDED_BY(mu_);
  std::map<Op, int> calls_ ABSL_GUARDED_BY(mu_);
  std::map<std::pair<Op, std::string>, int> hits_ ABSL_GUARDED_BY(mu_);
  int disk_changes_ ABSL_GUARDED_BY(mu_) = 0;
  int crash_countdown_ ABSL_GUARDED_BY(mu_) = 0;  // 0: no crash point
  bool crashed_ ABSL_GUARDED_BY(mu_) = false;
};

#undef STREAMFIT_RETURN_FAULT

}  // namespace streamfit::testing

#endif  // STREAMFIT_TESTS_TESTING_FAULT_FILE_SYSTEM_H_
