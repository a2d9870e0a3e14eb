// Careful file operations for durable state, done through a FileSystem: atomic
// replacement, fsync of files and directories, and errno -> absl::Status with
// codes that tell the caller whether to retry.
#ifndef STREAMFIT_CORE_STORAGE_FILE_UTIL_H_
#define STREAMFIT_CORE_STORAGE_FILE_UTIL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/storage/file_system.h"

namespace streamfit {

// Maps an errno from a file operation to a status: ENOSPC/EDQUOT/EFBIG ->
// RESOURCE_EXHAUSTED (free space, then retry); EROFS/EIO/EACCES/EPERM ->
// UNAVAILABLE (the disk or directory must be fixed, then retry); ENOENT ->
// NOT_FOUND; others -> INTERNAL. The message is "`what`: strerror".
absl::Status FileError(int error_number, absl::string_view what);

// Replaces `path` with `contents` so that after a crash it holds either the
// old or the new contents: writes `path`.tmp, fsyncs it, renames it over
// `path` and fsyncs the directory. On error the old file is untouched.
absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view contents,
                                 FileSystem* fs = DefaultFileSystem());

// The whole file. NOT_FOUND if it does not exist.
absl::StatusOr<std::string> ReadWholeFile(const std::string& path,
                                          FileSystem* fs = DefaultFileSystem());

// fsyncs a directory, making renames, creations and deletions in it durable.
absl::Status SyncDirectory(const std::string& path,
                           FileSystem* fs = DefaultFileSystem());

// Creates `path` (and parents) if missing and fsyncs its parent.
absl::Status CreateDirectoryDurably(const std::string& path,
                                    FileSystem* fs = DefaultFileSystem());

// Names of the entries in `dir` that start with `prefix` and end with
// `suffix`, sorted.
absl::StatusOr<std::vector<std::string>> ListFiles(
    const std::string& dir, absl::string_view prefix, absl::string_view suffix,
    FileSystem* fs = DefaultFileSystem());

// File names that sort by number: prefix + 20-digit zero-padded number +
// suffix, and the inverse (false if `name` is not of that form).
std::string NumberedFileName(absl::string_view prefix, uint64_t number,
                             absl::string_view suffix);
bool ParseNumberedFileName(absl::string_view name, absl::string_view prefix,
                           absl::string_view suffix, uint64_t* number);

// A framed blob: magic (8 bytes), payload length (u64), CRC-32C of the
// payload (u32), payload. Used for checkpoints and the manifest.
std::string EncodeFramed(absl::string_view magic, absl::string_view payload);
// The payload; DATA_LOSS naming `what` if the magic, length or checksum is
// wrong (a torn or corrupt file).
absl::StatusOr<std::string> DecodeFramed(absl::string_view magic,
                                         absl::string_view data,
                                         absl::string_view what);

}  // namespace streamfit

#endif  // STREAMFIT_CORE_STORAGE_FILE_UTIL_H_
