// CRC-32C (Castagnoli), the checksum of sample log records and checkpoints.
#ifndef STREAMFIT_CORE_STORAGE_CRC32C_H_
#define STREAMFIT_CORE_STORAGE_CRC32C_H_

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"

namespace streamfit {

// The CRC-32C of data[0, n) continuing from `crc` (the CRC of the bytes
// before; 0 to start). Crc32c("123456789") == 0xE3069283. Uses the CPU's
// CRC32 instruction where there is one (x86-64 with SSE4.2), else tables;
// both give the same value. Thread-safe.
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t n);

// The same by tables alone, on any CPU (tests compare the two).
uint32_t Crc32cExtendPortable(uint32_t crc, const void* data, size_t n);

inline uint32_t Crc32c(absl::string_view data) {
  return Crc32cExtend(0, data.data(), data.size());
}

}  // namespace streamfit

#endif  // STREAMFIT_CORE_STORAGE_CRC32C_H_
