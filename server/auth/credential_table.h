// The callers the server knows, read from --auth_tokens_file. One entry per
// line; blank lines and lines starting with '#' are ignored:
//   <role> <sha256-hex-of-token> [name]   a bearer token (its hash only)
//   <role> cn:<common name>                a client certificate (mutual TLS)
// The token itself never appears in the file, in memory past the hash, or in
// a log: an entry is named by its `name` (default "token-<line>").
// Immutable after Parse; thread-safe.
#ifndef STREAMFIT_SERVER_AUTH_CREDENTIAL_TABLE_H_
#define STREAMFIT_SERVER_AUTH_CREDENTIAL_TABLE_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/auth/roles.h"

namespace streamfit::auth {

// Who a caller is: a configured name and a role.
struct Principal {
  std::string name;
  Role role;
};

class CredentialTable {
 public:
  // INVALID_ARGUMENT naming the line for a malformed entry.
  static absl::StatusOr<CredentialTable> Parse(absl::string_view contents);
  // Reads and parses `path`.
  static absl::StatusOr<CredentialTable> ReadFile(const std::string& path);

  // The entry whose hash is SHA-256(token). Every entry is compared, each in
  // constant time, so the time taken does not depend on which entry (or how
  // much of one) matches.
  std::optional<Principal> FindToken(absl::string_view token) const;
  // The entry for a client certificate with this subject common name.
  std::optional<Principal> FindCommonName(absl::string_view common_name) const;

  size_t tokens() const { return tokens_.size(); }
  size_t common_names() const { return common_names_.size(); }

 private:
  using Digest = std::array<uint8_t, 32>;
  struct TokenEntry {
    Digest sha256;
    Principal principal;
  };
  struct NameEntry {
    std::string common_name;
    Principal principal;
  };
  std::vector<TokenEntry> tokens_;
  std::vector<NameEntry> common_names_;
};

// Lower-case hex SHA-256 of `data` (what --auth_tokens_file holds).
std::string Sha256Hex(absl::string_view data);

}  // namespace streamfit::auth

#endif  // STREAMFIT_SERVER_AUTH_CREDENTIAL_TABLE_H_
