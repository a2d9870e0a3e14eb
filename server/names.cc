#include "server/names.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace streamfit {

absl::Status ValidateName(absl::string_view what, absl::string_view name) {
  if (name.empty())
    return absl::InvalidArgumentError(absl::StrCat(what, " is empty"));
  bool ok = name.size() <= kMaxNameLength &&
            absl::ascii_isalnum(static_cast<unsigned char>(name[0]));
  for (char c : name) {
    ok = ok && (absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                c == '_' || c == '-' || c == '.');
  }
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      what, " '", absl::CHexEscape(name.substr(0, kMaxNameLength + 1)),
      "' may only hold letters, digits, '_', '-' and '.', must start with a "
      "letter or digit and have at most ",
      kMaxNameLength, " characters"));
}

}  // namespace streamfit
