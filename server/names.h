// The one pattern for every name a client chooses: models, dataset names and
// Snapshot.to_file files. Names are also file names on the server, so the
// pattern keeps them plain: 1-128 characters of [A-Za-z0-9_.-], the first a
// letter or digit (so never ".", "..", a hidden file or an option like
// "-rf").
#ifndef STREAMFIT_SERVER_NAMES_H_
#define STREAMFIT_SERVER_NAMES_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace streamfit {

inline constexpr size_t kMaxNameLength = 128;

// OK if `name` follows the pattern; INVALID_ARGUMENT naming `what` (for
// example "model name") and the rule otherwise.
absl::Status ValidateName(absl::string_view what, absl::string_view name);

}  // namespace streamfit

#endif  // STREAMFIT_SERVER_NAMES_H_
