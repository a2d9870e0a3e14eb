// A directory of checkpoints: opaque payloads (a serialized model state at a
// version) written atomically and read back newest first.
#ifndef STREAMFIT_CORE_STORAGE_CHECKPOINT_H_
#define STREAMFIT_CORE_STORAGE_CHECKPOINT_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/storage/file_system.h"

namespace streamfit {

// Files "ckpt-<20-digit version>.ckpt", each framed with a CRC-32C (see
// EncodeFramed). Not thread-safe: one writer per directory.
class CheckpointStore {
 public:
  // `fs` is not owned.
  explicit CheckpointStore(std::string dir,
                           FileSystem* fs = DefaultFileSystem())
      : dir_(std::move(dir)), fs_(fs) {}

  // Writes the checkpoint of `version` atomically (temp file, fsync, rename,
  // directory fsync): after a crash it is either whole or absent.
  absl::Status Write(uint64_t version, absl::string_view payload) const;

  // Versions of the checkpoint files present, newest first.
  absl::StatusOr<std::vector<uint64_t>> List() const;

  // The payload of `version`; DATA_LOSS if the file is torn or corrupt.
  absl::StatusOr<std::string> Read(uint64_t version) const;

  // Tries checkpoints newest first: `load` gets each valid payload until it
  // returns OK; the version it accepted is returned. A checkpoint that is
  // corrupt or that `load` refuses is skipped and described in `skipped`
  // (may be null). NOT_FOUND if there are none; DATA_LOSS if none loads.
  absl::StatusOr<uint64_t> LoadNewest(
      const std::function<absl::Status(uint64_t, const std::string&)>& load,
      std::vector<std::string>* skipped) const;

  // Removes every checkpoint but the newest `keep`; returns the oldest
  // version kept (0 if none is kept).
  absl::StatusOr<uint64_t> Prune(size_t keep) const;

  std::string PathOf(uint64_t version) const;

 private:
  const std::string dir_;
  FileSystem* const fs_;
};

}  // namespace streamfit

#endif  // STREAMFIT_CORE_STORAGE_CHECKPOINT_H_
