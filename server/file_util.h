// Small whole-file helpers for the server's data directory.
#ifndef STREAMFIT_SERVER_FILE_UTIL_H_
#define STREAMFIT_SERVER_FILE_UTIL_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace streamfit {

// The file's bytes; NOT_FOUND if it cannot be opened.
absl::StatusOr<std::string> ReadWholeFile(const std::string& path);

// Writes `bytes` to path.tmp, then renames it to `path`, so readers see the
// old or the new contents, never a part. Leaves no .tmp file on failure.
absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view bytes);

}  // namespace streamfit

#endif  // STREAMFIT_SERVER_FILE_UTIL_H_
