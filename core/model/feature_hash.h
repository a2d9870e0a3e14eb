// Feature hashing: namespaces and feature names (or indices) to 32-bit hashes
// with xxHash32 and a fixed seed, so a name maps to the same slot on every run
// and machine; quadratic interactions combine two hashes as Vowpal Wabbit
// does.
#ifndef STREAMFIT_CORE_MODEL_FEATURE_HASH_H_
#define STREAMFIT_CORE_MODEL_FEATURE_HASH_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace streamfit {

inline constexpr uint32_t kHashSeed = 0x73666974;  // "sfit"

// xxHash32 of the namespace's UTF-8 bytes with kHashSeed. Index features
// (Features.indices) live in the namespace "".
uint32_t HashNamespace(absl::string_view name);
// xxHash32 of the feature name's bytes, seeded with its namespace's hash.
uint32_t HashFeatureName(uint32_t namespace_hash, absl::string_view name);
// xxHash32 of the index as 4 little-endian bytes, seeded likewise.
uint32_t HashFeatureIndex(uint32_t namespace_hash, uint32_t index);

// The hash of the product feature of a and b (VW's FNV-style combination).
inline uint32_t InteractionHash(uint32_t a, uint32_t b) {
  return a * 0x1000193u ^ b;
}

// The slot of a hash in a table of 2^bits slots.
inline uint32_t HashSlot(uint32_t hash, uint32_t bits) {
  return hash & ((uint32_t{1} << bits) - 1);
}

}  // namespace streamfit

#endif  // STREAMFIT_CORE_MODEL_FEATURE_HASH_H_
