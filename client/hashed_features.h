// Named features hashed on the client: the fast form of Features.named.
#ifndef STREAMFIT_CLIENT_HASHED_FEATURES_H_
#define STREAMFIT_CLIENT_HASHED_FEATURES_H_

#include <cstdint>

#include "absl/strings/string_view.h"
#include "streamfit/v1/streamfit.pb.h"

namespace streamfit {

// A feature namespace, its hash computed once: Add appends a feature of it
// to Features.hashes as the server hashes Features.named (xxHash32 with the
// seeds of core/model/feature_hash.h), so a model learns it exactly as the
// named feature, without the server parsing or hashing a string. Immutable
// after construction; thread-safe.
class HashedNamespace {
 public:
  explicit HashedNamespace(absl::string_view name);

  // Appends feature `name` of this namespace with `value` (0 means 1).
  void Add(v1::Features& features, absl::string_view name,
           float value = 1) const;

 private:
  uint32_t hash_;
};

}  // namespace streamfit

#endif  // STREAMFIT_CLIENT_HASHED_FEATURES_H_
