#include "core/storage/log_record.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/storage/crc32c.h"

namespace streamfit {
namespace {

constexpr size_t kHeaderBytes = 8;          // length, crc
constexpr size_t kPayloadHeaderBytes = 16;  // start, features, count
constexpr uint32_t kMaxPayloadBytes = 1u << 30;

template <typename T>
void Put(std::string& out, const T& v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof(T));
}
template <typename T>
T Get(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// The bytes of a batch's dense part: features, labels, weights.
uint64_t DenseBytes(uint64_t n, uint64_t features) {
  return n * features * sizeof(float) + n * (sizeof(double) + sizeof(float));
}

// The bytes of a sparse section with m entries for n samples: m (u32),
// offsets (n + 1 x u32), hashes (m x u32), namespaces (m x u32), values
// (m x f32).
uint64_t SparseBytes(uint64_t n, uint64_t m) {
  return sizeof(uint32_t) * (1 + (n + 1)) + m * 3 * sizeof(uint32_t);
}

template <typename T>
void PutAll(std::string& out, const std::vector<T>& v) {
  out.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

template <typename T>
const char* GetAll(const char* p, size_t count, std::vector<T>& out) {
  out.resize(count);
  if (count > 0) std::memcpy(out.data(), p, count * sizeof(T));
  return p + count * sizeof(T);
}

}  // namespace

std::string EncodeLogRecord(uint64_t start_version, const ExampleBatch& batch) {
  const uint32_t n = static_cast<uint32_t>(batch.size());
  const bool sparse = !batch.sparse_offsets.empty();
  const uint32_t m = static_cast<uint32_t>(batch.sparse_hashes.size());
  const size_t payload_bytes = kPayloadHeaderBytes +
                               DenseBytes(n, batch.num_features) +
                               (sparse ? SparseBytes(n, m) : 0);
  // One buffer: the header (length, then the payload's CRC, filled in last)
  // and the payload after it.
  std::string record;
  record.reserve(kHeaderBytes + payload_bytes);
  Put(record, static_cast<uint32_t>(payload_bytes));
  Put(record, uint32_t{0});
  Put(record, start_version);
  Put(record, batch.num_features);
  Put(record, n);
  PutAll(record, batch.values);
  PutAll(record, batch.labels);
  PutAll(record, batch.weights);
  if (sparse) {
    Put(record, m);
    PutAll(record, batch.sparse_offsets);
    PutAll(record, batch.sparse_hashes);
    PutAll(record, batch.sparse_namespaces);
    PutAll(record, batch.sparse_values);
  }
  const uint32_t crc =
      Crc32cExtend(0, record.data() + kHeaderBytes, payload_bytes);
  std::memcpy(record.data() + sizeof(uint32_t), &crc, sizeof(crc));
  return record;
}

absl::StatusOr<ParsedLogRecord> ParseLogRecord(absl::string_view data,
                                               size_t pos, bool decode) {
  if (data.size() - pos < kHeaderBytes) {
    return absl::DataLossError("torn record header");
  }
  const uint32_t length = Get<uint32_t>(data.data() + pos);
  const uint32_t crc = Get<uint32_t>(data.data() + pos + 4);
  if (length < kPayloadHeaderBytes || length > kMaxPayloadBytes) {
    return absl::DataLossError(absl::StrCat("bad record length ", length));
  }
  if (data.size() - pos - kHeaderBytes < length) {
    return absl::DataLossError("torn record");
  }
  const char* p = data.data() + pos + kHeaderBytes;
  if (Crc32cExtend(0, p, length) != crc) {
    return absl::DataLossError("record checksum mismatch");
  }
  ParsedLogRecord out;
  out.bytes = kHeaderBytes + length;
  out.start_version = Get<uint64_t>(p);
  const uint32_t features = Get<uint32_t>(p + 8);
  const uint32_t n = Get<uint32_t>(p + 12);
  // Bounds first, so the sizes below cannot overflow.
  if (n > length / 12 || (n > 0 && features > length / 4 / n)) {
    return absl::DataLossError("record length does not match its shape");
  }
  const uint64_t dense_end = kPayloadHeaderBytes + DenseBytes(n, features);
  // After the dense part, a sparse section or nothing (a record of a batch
  // without sparse features, as all records were before they existed).
  uint32_t m = 0;
  const bool sparse = length > dense_end;
  if (sparse && length >= dense_end + sizeof(uint32_t)) {
    m = Get<uint32_t>(p + dense_end);
  }
  if (length < dense_end ||
      (sparse && length != dense_end + SparseBytes(n, m))) {
    return absl::DataLossError("record length does not match its shape");
  }
  if (sparse) {  // offsets: from 0, non-decreasing, up to m
    const char* offsets = p + dense_end + sizeof(uint32_t);
    uint32_t previous = 0;
    for (uint64_t i = 0; i <= n; ++i) {
      const uint32_t at = Get<uint32_t>(offsets + i * sizeof(uint32_t));
      if (at < previous || (i == 0 && at != 0) || (i == n && at != m)) {
        return absl::DataLossError("record has bad sparse offsets");
      }
      previous = at;
    }
  }
  out.batch.num_features = features;
  if (!decode) {
    out.batch.labels.resize(n);  // size() only
    return out;
  }
  const char* v = p + kPayloadHeaderBytes;
  v = GetAll(v, size_t{n} * features, out.batch.values);
  v = GetAll(v, n, out.batch.labels);
  v = GetAll(v, n, out.batch.weights);
  if (sparse) {
    v += sizeof(uint32_t);  // m
    v = GetAll(v, size_t{n} + 1, out.batch.sparse_offsets);
    v = GetAll(v, m, out.batch.sparse_hashes);
    v = GetAll(v, m, out.batch.sparse_namespaces);
    GetAll(v, m, out.batch.sparse_values);
  }
  return out;
}
}  // namespace streamfit
