// The durable list of a server's models: which exist, their configs, their
// lineage and the directory ("incarnation") holding each one's log and
// checkpoints.
#ifndef STREAMFIT_SERVER_MANIFEST_H_
#define STREAMFIT_SERVER_MANIFEST_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "core/model/model_config.h"
#include "core/storage/file_system.h"
#include "server/model_lineage.h"

namespace streamfit {

// A value type. Saved whole and atomically (temp, fsync, rename, directory
// fsync) with a CRC-32C, so a crash leaves the old or the new manifest.
struct Manifest {
  struct Entry {
    uint64_t incarnation = 0;
    ModelConfig config;
    Lineage lineage;  // empty in manifests written before lineage was kept
  };
  std::map<std::string, Entry> models;  // by name
  uint64_t next_incarnation = 1;

  // An empty manifest if `path` does not exist; DATA_LOSS if it is corrupt.
  static absl::StatusOr<Manifest> Load(const std::string& path,
                                       FileSystem* fs = DefaultFileSystem());
  absl::Status Save(const std::string& path,
                    FileSystem* fs = DefaultFileSystem()) const;
};

}  // namespace streamfit

#endif  // STREAMFIT_SERVER_MANIFEST_H_
