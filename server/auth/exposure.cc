#include "server/auth/exposure.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace streamfit::auth {

bool IsLoopbackAddress(absl::string_view address) {
  if (absl::StartsWith(address, "unix:") ||
      absl::StartsWith(address, "unix-abstract:")) {
    return true;
  }
  absl::ConsumePrefix(&address, "ipv4:");
  absl::ConsumePrefix(&address, "ipv6:");
  absl::string_view host = address;
  if (absl::StartsWith(host, "[")) {
    const size_t end = host.find(']');
    if (end == absl::string_view::npos) return false;
    host = host.substr(1, end - 1);
  } else if (const size_t colon = host.rfind(':');
             colon != absl::string_view::npos) {
    host = host.substr(0, colon);
  }
  const std::string lower = absl::AsciiStrToLower(host);
  if (lower == "localhost") return true;
  in_addr v4;
  if (inet_pton(AF_INET, lower.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;  // 127.0.0.0/8
  }
  in6_addr v6;
  return inet_pton(AF_INET6, lower.c_str(), &v6) == 1 &&
         IN6_IS_ADDR_LOOPBACK(&v6);
}

absl::Status CheckExposure(const Exposure& exposure) {
  if (exposure.tokens && !exposure.tls) {
    return absl::InvalidArgumentError(
        "--auth_tokens_file needs TLS (--tls_cert_file and --tls_key_file): "
        "bearer tokens are never accepted in clear text");
  }
  if (IsLoopbackAddress(exposure.address) || exposure.allow_insecure_remote) {
    return absl::OkStatus();
  }
  const bool authenticated = exposure.tokens || exposure.client_certificates;
  if (exposure.tls && authenticated) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "refusing to listen on ", exposure.address, " without ",
      exposure.tls ? "authentication" : "TLS and authentication",
      ": anyone who reaches the port could delete models or restore state. "
      "Set --tls_cert_file/--tls_key_file with --auth_tokens_file (or "
      "--tls_client_ca_file), listen on 127.0.0.1, or pass "
      "--allow_insecure_remote to accept the risk"));
}

}  // namespace streamfit::auth
