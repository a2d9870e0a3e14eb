#include "server/file_util.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace streamfit {

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view bytes) {
  namespace fs = std::filesystem;
  const std::string temp = path + ".tmp";
  std::error_code ec;
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), bytes.size());
    out.flush();
    if (!out) {
      fs::remove(temp, ec);
      return absl::InternalError(absl::StrCat("cannot write ", temp));
    }
  }
  fs::rename(temp, path, ec);
  if (ec) {
    fs::remove(temp, ec);
    return absl::InternalError(
        absl::StrCat("cannot rename to ", path, ": ", ec.message()));
  }
  return absl::OkStatus();
}

}  // namespace streamfit
