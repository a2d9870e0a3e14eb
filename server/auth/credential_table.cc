#include "server/auth/credential_table.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace streamfit::auth {
namespace {

std::array<uint8_t, 32> Sha256(absl::string_view data) {
  std::array<uint8_t, 32> digest;
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
         digest.data());
  return digest;
}

}  // namespace

std::string Sha256Hex(absl::string_view data) {
  const std::array<uint8_t, 32> digest = Sha256(data);
  return absl::BytesToHexString(absl::string_view(
      reinterpret_cast<const char*>(digest.data()), digest.size()));
}

absl::StatusOr<CredentialTable> CredentialTable::Parse(
    absl::string_view contents) {
  CredentialTable table;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(contents, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    auto error = [&](absl::string_view what) {
      return absl::InvalidArgumentError(
          absl::StrCat("auth tokens file, line ", line_number, ": ", what));
    };
    const size_t space = line.find_first_of(" \t");
    if (space == absl::string_view::npos) {
      return error(
          "expected '<role> <sha256-hex> [name]' or "
          "'<role> cn:<common name>'");
    }
    absl::StatusOr<Role> role = ParseRole(line.substr(0, space));
    if (!role.ok()) return error(role.status().message());
    absl::string_view rest = absl::StripAsciiWhitespace(line.substr(space));
    if (absl::ConsumePrefix(&rest, "cn:")) {
      rest = absl::StripAsciiWhitespace(rest);
      if (rest.empty()) return error("empty common name after 'cn:'");
      table.common_names_.push_back(
          {std::string(rest), {absl::StrCat("cn:", rest), *role}});
      continue;
    }
    std::vector<absl::string_view> fields =
        absl::StrSplit(rest, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (fields.empty() || fields.size() > 2) {
      return error("expected '<role> <sha256-hex> [name]'");
    }
    const absl::string_view hex = fields[0];
    if (hex.size() != 64 ||
        !std::all_of(hex.begin(), hex.end(), absl::ascii_isxdigit)) {
      return error(
          "the token must be given as its SHA-256 in hex (64 digits), e.g. "
          "printf %s TOKEN | sha256sum");
    }
    TokenEntry entry;
    const std::string bytes = absl::HexStringToBytes(hex);
    std::copy(bytes.begin(), bytes.end(), entry.sha256.begin());
    entry.principal = {fields.size() == 2 ? std::string(fields[1])
                                          : absl::StrCat("token-", line_number),
                       *role};
    table.tokens_.push_back(std::move(entry));
  }
  return table;
}

absl::StatusOr<CredentialTable> CredentialTable::ReadFile(
    const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot read auth tokens file ", path));
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  return Parse(contents.str());
}

std::optional<Principal> CredentialTable::FindToken(
    absl::string_view token) const {
  const Digest digest = Sha256(token);
  const TokenEntry* found = nullptr;
  for (const TokenEntry& entry : tokens_) {
    const bool match =
        CRYPTO_memcmp(entry.sha256.data(), digest.data(), digest.size()) == 0;
    if (match && found == nullptr) found = &entry;
  }
  if (found == nullptr) return std::nullopt;
  return found->principal;
}

std::optional<Principal> CredentialTable::FindCommonName(
    absl::string_view common_name) const {
  for (const NameEntry& entry : common_names_) {
    if (entry.common_name == common_name) return entry.principal;
  }
  return std::nullopt;
}

}  // namespace streamfit::auth
