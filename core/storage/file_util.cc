#include "core/storage/file_util.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/status_macros.h"
#include "core/storage/crc32c.h"

namespace streamfit {
namespace {

void PutU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}
void PutU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}
uint64_t GetLe(absl::string_view data, size_t pos, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) {
    v |= uint64_t{static_cast<unsigned char>(data[pos + i])} << (8 * i);
  }
  return v;
}

}  // namespace

absl::Status FileError(int error_number, absl::string_view what) {
  const std::string message =
      absl::StrCat(what, ": ", std::strerror(error_number));
  switch (error_number) {
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
      return absl::ResourceExhaustedError(message);
    case EROFS:
    case EIO:
    case EACCES:
    case EPERM:
      return absl::UnavailableError(message);
    case ENOENT:
      return absl::NotFoundError(message);
    default:
      return absl::InternalError(message);
  }
}

absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view contents, FileSystem* fs) {
  const std::string tmp = path + ".tmp";
  absl::Status status;
  {
    ASSIGN_OR_RETURN(std::unique_ptr<FileSystem::WritableFile> file,
                     fs->OpenWritable(tmp, /*truncate=*/true));
    status = file->PWrite(0, contents);
    if (status.ok()) status = file->Sync();
  }
  if (status.ok()) status = fs->Rename(tmp, path);
  if (!status.ok()) {
    (void)fs->Remove(tmp);
    return status;
  }
  return SyncDirectory(std::filesystem::path(path).parent_path().string(), fs);
}

absl::StatusOr<std::string> ReadWholeFile(const std::string& path,
                                          FileSystem* fs) {
  return fs->ReadFile(path);
}

absl::Status SyncDirectory(const std::string& path, FileSystem* fs) {
  return fs->SyncDirectory(path.empty() ? "." : path);
}

absl::Status CreateDirectoryDurably(const std::string& path, FileSystem* fs) {
  if (fs->IsDirectory(path)) return absl::OkStatus();
  RETURN_IF_ERROR(fs->CreateDirectories(path));
  return SyncDirectory(std::filesystem::path(path).parent_path().string(), fs);
}

absl::StatusOr<std::vector<std::string>> ListFiles(const std::string& dir,
                                                   absl::string_view prefix,
                                                   absl::string_view suffix,
                                                   FileSystem* fs) {
  ASSIGN_OR_RETURN(std::vector<std::string> all, fs->ListDirectory(dir));
  std::vector<std::string> names;
  for (std::string& name : all) {
    if (absl::StartsWith(name, prefix) && absl::EndsWith(name, suffix)) {
      names.push_back(std::move(name));
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string NumberedFileName(absl::string_view prefix, uint64_t number,
                             absl::string_view suffix) {
  return absl::StrCat(prefix, absl::StrFormat("%020u", number), suffix);
}

bool ParseNumberedFileName(absl::string_view name, absl::string_view prefix,
                           absl::string_view suffix, uint64_t* number) {
  if (name.size() != prefix.size() + 20 + suffix.size() ||
      !absl::StartsWith(name, prefix) || !absl::EndsWith(name, suffix)) {
    return false;
  }
  return absl::SimpleAtoi(name.substr(prefix.size(), 20), number);
}

std::string EncodeFramed(absl::string_view magic, absl::string_view payload) {
  std::string out(magic.substr(0, 8));
  out.resize(8, '\0');
  PutU64(out, payload.size());
  PutU32(out, Crc32c(payload));
  out.append(payload.data(), payload.size());
  return out;
}

absl::StatusOr<std::string> DecodeFramed(absl::string_view magic,
                                         absl::string_view data,
                                         absl::string_view what) {
  std::string want(magic.substr(0, 8));
  want.resize(8, '\0');
  constexpr size_t kHeader = 8 + 8 + 4;
  if (data.size() < kHeader || data.substr(0, 8) != want) {
    return absl::DataLossError(absl::StrCat(what, ": bad header"));
  }
  const uint64_t length = GetLe(data, 8, 8);
  const uint32_t crc = static_cast<uint32_t>(GetLe(data, 16, 4));
  if (length != data.size() - kHeader) {
    return absl::DataLossError(
        absl::StrCat(what, ": holds ", data.size() - kHeader,
                     " payload bytes, header says ", length));
  }
  absl::string_view payload = data.substr(kHeader);
  if (Crc32c(payload) != crc) {
    return absl::DataLossError(absl::StrCat(what, ": checksum mismatch"));
  }
  return std::string(payload);
}

}  // namespace streamfit
