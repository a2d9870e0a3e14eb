// Splits a fuzz input into the fields a target needs: little-endian integers
// from the front, then the rest. Reading past the end yields zeros, so every
// input is usable.
#ifndef STREAMFIT_TESTS_FUZZ_FUZZ_INPUT_H_
#define STREAMFIT_TESTS_FUZZ_FUZZ_INPUT_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace streamfit::fuzz {

class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size)
      : data_(reinterpret_cast<const char*>(data), size) {}

  // The next `n` bytes (fewer at the end) as an unsigned little-endian
  // integer; n <= 8.
  uint64_t Int(size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n && !data_.empty(); ++i) {
      v |= uint64_t{static_cast<uint8_t>(data_.front())} << (8 * i);
      data_.remove_prefix(1);
    }
    return v;
  }
  uint8_t Byte() { return static_cast<uint8_t>(Int(1)); }
  // The next `n` bytes, or what is left.
  absl::string_view Bytes(size_t n) {
    const absl::string_view out = data_.substr(0, std::min(n, data_.size()));
    data_.remove_prefix(out.size());
    return out;
  }
  absl::string_view Rest() { return Bytes(data_.size()); }
  bool empty() const { return data_.empty(); }

 private:
  absl::string_view data_;
};

// A fresh private directory for one input's files, removed with its
// contents on destruction. Under /dev/shm when it exists (a fuzz target
// writes files for every input; fsync on tmpfs costs nothing), else TMPDIR.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }
  // Writes `bytes` to path()/name; aborts on an I/O error (the machine's
  // problem, not the input's).
  void Write(const std::string& name, absl::string_view bytes) const;

 private:
  std::string path_;
};

}  // namespace streamfit::fuzz

#endif  // STREAMFIT_TESTS_FUZZ_FUZZ_INPUT_H_
