#include "core/model/feature_hash.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace streamfit {

uint32_t HashNamespace(absl::string_view name) {
  return XXH32(name.data(), name.size(), kHashSeed);
}

uint32_t HashFeatureName(uint32_t namespace_hash, absl::string_view name) {
  return XXH32(name.data(), name.size(), namespace_hash);
}

uint32_t HashFeatureIndex(uint32_t namespace_hash, uint32_t index) {
  const unsigned char bytes[4] = {static_cast<unsigned char>(index),
                                  static_cast<unsigned char>(index >> 8),
                                  static_cast<unsigned char>(index >> 16),
                                  static_cast<unsigned char>(index >> 24)};
  return XXH32(bytes, sizeof(bytes), namespace_hash);
}

}  // namespace streamfit
