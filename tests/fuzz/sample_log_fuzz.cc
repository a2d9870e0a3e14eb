// Fuzz target: opening and replaying a sample log
// (core/storage/sample_log.cc, log_record.cc) from an arbitrary directory
// image. Input: a flags byte, then up to kMaxSegments segment files, each a
// start version (u64, the file's name), a length (u32) and that many bytes (the
// last one: what is left). With flag 1 set, the record checksums inside the
// segments are recomputed first, so inputs reach the record decoding behind
// the CRC.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_format.h"
#include "core/storage/crc32c.h"
#include "core/storage/sample_log.h"
#include "tests/fuzz/fuzz_input.h"

namespace streamfit {
namespace {

constexpr int kMaxSegments = 4;

// Walks the records of a segment (u32 length, u32 CRC-32C, payload) and
// writes the right CRC into each whole one.
void FixChecksums(std::string& segment) {
  size_t pos = 0;
  while (segment.size() - pos >= 8) {
    uint32_t length;
    std::memcpy(&length, segment.data() + pos, 4);
    if (segment.size() - pos - 8 < length) break;
    const uint32_t crc = Crc32cExtend(0, segment.data() + pos + 8, length);
    std::memcpy(segment.data() + pos + 4, &crc, 4);
    pos += 8 + length;
  }
}

// A replayed batch is well formed.
void CheckBatch(const ExampleBatch& b) {
  const size_t n = b.size();
  if (b.values.size() != n * b.num_features || b.weights.size() != n) {
    std::abort();
  }
  if (b.sparse_offsets.empty()) return;
  const size_t m = b.sparse_hashes.size();
  if (b.sparse_offsets.size() != n + 1 || b.sparse_namespaces.size() != m ||
      b.sparse_values.size() != m || b.sparse_offsets.back() != m) {
    std::abort();
  }
  for (size_t i = 0; i < n; ++i) {
    if (b.sparse_offsets[i] > b.sparse_offsets[i + 1]) std::abort();
  }
}

}  // namespace
}  // namespace streamfit

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace streamfit;
  fuzz::FuzzInput in(data, size);
  const uint8_t flags = in.Byte();
  fuzz::ScratchDir dir;
  for (int i = 0; i < kMaxSegments && !in.empty(); ++i) {
    const uint64_t start = in.Int(8);
    const uint32_t length = static_cast<uint32_t>(in.Int(4));
    std::string segment(in.Bytes(length));
    if (flags & 1) FixChecksums(segment);
    dir.Write(absl::StrFormat("log-%020u.seg", start), segment);
  }

  SampleLog::Options options;
  options.fsync.mode = FsyncPolicy::Mode::kNever;
  LogOpenReport report;
  absl::StatusOr<std::unique_ptr<SampleLog>> log =
      SampleLog::Open(dir.path(), options, &report);
  if (!log.ok()) return 0;
  if (report.end_version < report.first_version) std::abort();
  uint64_t replayed = 0;
  const absl::Status status = (*log)->Replay(
      0, [&](uint64_t start, const ExampleBatch& batch) -> absl::Status {
        CheckBatch(batch);
        if (start + batch.size() > report.end_version) std::abort();
        replayed += batch.size();
        return absl::OkStatus();
      });
  if (status.ok() && replayed != report.end_version - report.first_version) {
    std::abort();
  }
  return 0;
}
