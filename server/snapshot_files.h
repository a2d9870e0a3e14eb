// The snapshots saved on the server by Snapshot.to_file: listed, read back
// for Restore by name, and deleted. Files in `dir` are written by
// WriteFileAtomically (EncodeSnapshotFile), so a listed file is complete.
// Stateless functions doing their file work through `fs`; safe to call from
// any thread (concurrent writers and deleters of one name see the file
// system's ordering).
#ifndef STREAMFIT_SERVER_SNAPSHOT_FILES_H_
#define STREAMFIT_SERVER_SNAPSHOT_FILES_H_

#include <string>

#include "absl/status/statusor.h"
#include "core/storage/file_system.h"
#include "streamfit/v1/streamfit.pb.h"

namespace streamfit {

// The snapshots in `dir` (of model `model` only, unless it is empty), newest
// first; unreadable files are named in `unreadable`. A missing `dir` has
// none.
absl::StatusOr<v1::ListSnapshotsResponse> ListSnapshotFiles(
    const std::string& dir, const std::string& model,
    FileSystem* fs = DefaultFileSystem());

// The snapshot at `path` (from ModelStore::SnapshotPath). NOT_FOUND naming
// `name` if there is none; DATA_LOSS if the file is torn or corrupt.
absl::StatusOr<v1::ModelSnapshot> ReadSnapshotFile(
    const std::string& path, const std::string& name,
    FileSystem* fs = DefaultFileSystem());

// Removes the snapshot at `path`; NOT_FOUND naming `name` if there is none.
absl::Status DeleteSnapshotFile(const std::string& path,
                                const std::string& name,
                                FileSystem* fs = DefaultFileSystem());

}  // namespace streamfit

#endif  // STREAMFIT_SERVER_SNAPSHOT_FILES_H_
