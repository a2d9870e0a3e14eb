#include "core/storage/checkpoint.h"

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "core/storage/file_util.h"

namespace streamfit {
namespace {

constexpr absl::string_view kPrefix = "ckpt-";
constexpr absl::string_view kSuffix = ".ckpt";
constexpr absl::string_view kMagic = "SFCKPT1\n";

}  // namespace

std::string CheckpointStore::PathOf(uint64_t version) const {
  return absl::StrCat(dir_, "/", NumberedFileName(kPrefix, version, kSuffix));
}

absl::Status CheckpointStore::Write(uint64_t version,
                                    absl::string_view payload) const {
  RETURN_IF_ERROR(CreateDirectoryDurably(dir_, fs_));
  return WriteFileAtomically(PathOf(version), EncodeFramed(kMagic, payload),
                             fs_);
}

absl::StatusOr<std::vector<uint64_t>> CheckpointStore::List() const {
  ASSIGN_OR_RETURN(std::vector<std::string> names,
                   ListFiles(dir_, kPrefix, kSuffix, fs_));
  std::vector<uint64_t> versions;
  for (auto it = names.rbegin(); it != names.rend(); ++it) {
    uint64_t v;
    if (ParseNumberedFileName(*it, kPrefix, kSuffix, &v)) versions.push_back(v);
  }
  return versions;
}

absl::StatusOr<std::string> CheckpointStore::Read(uint64_t version) const {
  const std::string path = PathOf(version);
  ASSIGN_OR_RETURN(const std::string data, ReadWholeFile(path, fs_));
  return DecodeFramed(kMagic, data, path);
}

absl::StatusOr<uint64_t> CheckpointStore::LoadNewest(
    const std::function<absl::Status(uint64_t, const std::string&)>& load,
    std::vector<std::string>* skipped) const {
  ASSIGN_OR_RETURN(const std::vector<uint64_t> versions, List());
  if (versions.empty()) {
    return absl::NotFoundError(absl::StrCat("no checkpoint in ", dir_));
  }
  for (uint64_t v : versions) {
    absl::StatusOr<std::string> payload = Read(v);
    absl::Status status = payload.ok() ? load(v, *payload) : payload.status();
    if (status.ok()) return v;
    if (skipped != nullptr) {
      skipped->push_back(
          absl::StrCat("checkpoint ", PathOf(v), ": ", status.message()));
    }
  }
  return absl::DataLossError(absl::StrCat("no valid checkpoint in ", dir_));
}

absl::StatusOr<uint64_t> CheckpointStore::Prune(size_t keep) const {
  ASSIGN_OR_RETURN(const std::vector<uint64_t> versions, List());
  for (size_t i = keep; i < versions.size(); ++i) {
    const std::string path = PathOf(versions[i]);
    absl::Status removed = fs_->Remove(path);
    if (!removed.ok() && !absl::IsNotFound(removed)) return removed;
  }
  if (keep == 0 || versions.empty()) return 0;
  return versions[std::min(keep, versions.size()) - 1];
}

}  // namespace streamfit
