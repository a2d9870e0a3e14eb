// The file operations durable state is made of, behind one small interface
// (after leveldb's Env): the sample log, checkpoints, the manifest, datasets
// and retrain job records do all their file work through a FileSystem, so
// tests can make any step fail, write short, stall or "crash".
#ifndef STREAMFIT_CORE_STORAGE_FILE_SYSTEM_H_
#define STREAMFIT_CORE_STORAGE_FILE_SYSTEM_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace streamfit {

// Errors are absl::Status values made by FileError
// (core/storage/file_util.h), so a caller can tell a full disk
// (RESOURCE_EXHAUSTED) from a broken one (UNAVAILABLE). Implementations are
// thread-safe; a WritableFile is used by one thread at a time.
class FileSystem {
 public:
  // An open file for writing at explicit offsets.
  class WritableFile {
   public:
    virtual ~WritableFile() = default;
    // Writes all of `data` at `offset` (retrying short writes).
    virtual absl::Status PWrite(uint64_t offset, absl::string_view data) = 0;
    // fdatasync: the data written so far and the file size are durable.
    virtual absl::Status Sync() = 0;
    virtual absl::Status Truncate(uint64_t size) = 0;
  };
  // An exclusive advisory lock on a file, released when destroyed.
  class Lock {
   public:
    virtual ~Lock() = default;
  };

  virtual ~FileSystem() = default;

  // Opens `path` for writing, creating it if missing; `truncate` empties it.
  virtual absl::StatusOr<std::unique_ptr<WritableFile>> OpenWritable(
      const std::string& path, bool truncate) = 0;
  // The whole file; NOT_FOUND if it does not exist.
  virtual absl::StatusOr<std::string> ReadFile(const std::string& path) = 0;
  virtual absl::StatusOr<uint64_t> FileSize(const std::string& path) = 0;
  // Atomically replaces `to` by `from`.
  virtual absl::Status Rename(const std::string& from,
                              const std::string& to) = 0;
  // Removes a file; NOT_FOUND if it does not exist.
  virtual absl::Status Remove(const std::string& path) = 0;
  // Removes a directory and everything in it (OK if missing).
  virtual absl::Status RemoveAll(const std::string& path) = 0;
  // Creates `path` and missing parents; OK if it exists as a directory.
  virtual absl::Status CreateDirectories(const std::string& path) = 0;
  // fsync of a directory: creations, renames and removals in it are durable.
  virtual absl::Status SyncDirectory(const std::string& path) = 0;
  // Names of the entries of `dir` (files and directories), unsorted.
  virtual absl::StatusOr<std::vector<std::string>> ListDirectory(
      const std::string& dir) = 0;
  virtual bool IsDirectory(const std::string& path) = 0;
  // An exclusive lock on `path` (created if missing) held by this process:
  // flock(LOCK_EX | LOCK_NB). FAILED_PRECONDITION if another holds it.
  virtual absl::StatusOr<std::unique_ptr<Lock>> LockFile(
      const std::string& path) = 0;
};

// The real (POSIX) file system; never destroyed.
FileSystem* DefaultFileSystem();

}  // namespace streamfit

#endif  // STREAMFIT_CORE_STORAGE_FILE_SYSTEM_H_
