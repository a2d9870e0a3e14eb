#include "core/file_util.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/crc32c.h"
#include "core/status_macros.h"

namespace streamfit {
namespace {

// Closes a descriptor on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

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
                                 absl::string_view contents) {
  const std::string tmp = path + ".tmp";
  {
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (fd.get() < 0) return FileError(errno, absl::StrCat("create ", tmp));
    size_t done = 0;
    while (done < contents.size()) {
      const ssize_t n =
          ::write(fd.get(), contents.data() + done, contents.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        const int e = errno;
        ::unlink(tmp.c_str());
        return FileError(e, absl::StrCat("write ", tmp));
      }
      done += static_cast<size_t>(n);
    }
    if (::fsync(fd.get()) != 0) {
      const int e = errno;
      ::unlink(tmp.c_str());
      return FileError(e, absl::StrCat("fsync ", tmp));
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    return FileError(e, absl::StrCat("rename ", tmp));
  }
  return SyncDirectory(std::filesystem::path(path).parent_path().string());
}

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return FileError(errno, absl::StrCat("open ", path));
  std::string out;
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return FileError(errno, absl::StrCat("read ", path));
    if (n == 0) return out;
    out.append(buffer, static_cast<size_t>(n));
  }
}

absl::Status SyncDirectory(const std::string& path) {
  const std::string dir = path.empty() ? "." : path;
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return FileError(errno, absl::StrCat("open ", dir));
  if (::fsync(fd.get()) != 0) {
    return FileError(errno, absl::StrCat("fsync ", dir));
  }
  return absl::OkStatus();
}

absl::Status CreateDirectoryDurably(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return absl::OkStatus();
  std::filesystem::create_directories(path, ec);
  if (ec) return FileError(ec.value(), absl::StrCat("create ", path));
  return SyncDirectory(std::filesystem::path(path).parent_path().string());
}

absl::StatusOr<std::vector<std::string>> ListFiles(const std::string& dir,
                                                   absl::string_view prefix,
                                                   absl::string_view suffix) {
  std::error_code ec;
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && absl::StartsWith(name, prefix) &&
        absl::EndsWith(name, suffix)) {
      names.push_back(name);
    }
  }
  if (ec) return FileError(ec.value(), absl::StrCat("list ", dir));
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
