#include "server/snapshot_files.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/storage/file_util.h"
#include "server/snapshot_codec.h"

namespace streamfit {
namespace {

namespace fs = std::filesystem;

int64_t ModifiedUnixMs(const fs::path& path) {
  std::error_code ec;
  const fs::file_time_type time = fs::last_write_time(path, ec);
  if (ec) return 0;
  // file_time_type's epoch is unspecified: measure from now on both clocks.
  const auto age = fs::file_time_type::clock::now() - time;
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             (std::chrono::system_clock::now() -
              std::chrono::duration_cast<std::chrono::system_clock::duration>(
                  age))
                 .time_since_epoch())
      .count();
}

}  // namespace

absl::StatusOr<v1::ListSnapshotsResponse> ListSnapshotFiles(
    const std::string& dir, const std::string& model, FileSystem* fs) {
  v1::ListSnapshotsResponse response;
  absl::StatusOr<std::vector<std::string>> names = fs->ListDirectory(dir);
  if (absl::IsNotFound(names.status())) return response;
  if (!names.ok()) return names.status();
  for (const std::string& name : *names) {
    const std::string path = absl::StrCat(dir, "/", name);
    // Temporary files of writes in progress start with '.'.
    if (name.empty() || name[0] == '.' || fs->IsDirectory(path)) continue;
    absl::StatusOr<std::string> data = ReadWholeFile(path, fs);
    absl::StatusOr<v1::ModelSnapshot> snapshot =
        data.ok() ? DecodeSnapshotFile(*data)
                  : absl::StatusOr<v1::ModelSnapshot>(data.status());
    if (!snapshot.ok()) {
      response.add_unreadable(
          absl::StrCat(name, ": ", snapshot.status().message()));
      continue;
    }
    if (!model.empty() && snapshot->model() != model) continue;
    v1::SnapshotInfo* info = response.add_snapshots();
    info->set_name(name);
    info->set_model(snapshot->model());
    info->set_model_version(snapshot->model_version());
    *info->mutable_config() = snapshot->config();
    info->set_bytes(data->size());
    info->set_modified_unix_ms(ModifiedUnixMs(path));
  }
  auto* snapshots = response.mutable_snapshots();
  std::sort(snapshots->begin(), snapshots->end(),
            [](const v1::SnapshotInfo& a, const v1::SnapshotInfo& b) {
              if (a.modified_unix_ms() != b.modified_unix_ms()) {
                return a.modified_unix_ms() > b.modified_unix_ms();
              }
              return a.name() < b.name();
            });
  return response;
}

absl::StatusOr<v1::ModelSnapshot> ReadSnapshotFile(const std::string& path,
                                                   const std::string& name,
                                                   FileSystem* fs) {
  absl::StatusOr<std::string> data = ReadWholeFile(path, fs);
  if (absl::IsNotFound(data.status()) || fs->IsDirectory(path)) {
    return absl::NotFoundError(
        absl::StrCat("no snapshot named '", name, "' on the server"));
  }
  if (!data.ok()) return data.status();
  absl::StatusOr<v1::ModelSnapshot> snapshot = DecodeSnapshotFile(*data);
  if (!snapshot.ok()) {
    return absl::Status(
        snapshot.status().code(),
        absl::StrCat("snapshot '", name, "': ", snapshot.status().message()));
  }
  return snapshot;
}

absl::Status DeleteSnapshotFile(const std::string& path,
                                const std::string& name, FileSystem* fs) {
  absl::Status s = fs->Remove(path);
  if (absl::IsNotFound(s)) {
    return absl::NotFoundError(
        absl::StrCat("no snapshot named '", name, "' on the server"));
  }
  if (!s.ok()) {
    return absl::Status(s.code(), absl::StrCat("cannot delete snapshot '", name,
                                               "': ", s.message()));
  }
  return absl::OkStatus();
}

}  // namespace streamfit
