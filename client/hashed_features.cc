#include "client/hashed_features.h"

#include "core/model/feature_hash.h"

namespace streamfit {

HashedNamespace::HashedNamespace(absl::string_view name)
    : hash_(HashNamespace(name)) {}

void HashedNamespace::Add(v1::Features& features, absl::string_view name,
                          float value) const {
  features.add_hashes(HashFeatureName(hash_, name));
  features.add_hashed_namespaces(hash_);
  features.add_hashed_values(value);
}

}  // namespace streamfit
