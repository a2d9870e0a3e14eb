// The safe default: a server reachable beyond this machine must encrypt
// (TLS) and authenticate (bearer tokens or client certificates), unless the
// operator accepts the risk with --allow_insecure_remote. Stateless.
#ifndef STREAMFIT_SERVER_AUTH_EXPOSURE_H_
#define STREAMFIT_SERVER_AUTH_EXPOSURE_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace streamfit::auth {

// Whether gRPC address `address` ("host:port", "[v6]:port", "unix:...")
// accepts connections from this machine only: 127.0.0.0/8, ::1, localhost
// and Unix sockets.
bool IsLoopbackAddress(absl::string_view address);

struct Exposure {
  absl::string_view address;
  bool tls = false;
  bool tokens = false;               // --auth_tokens_file
  bool client_certificates = false;  // --tls_client_ca_file
  bool allow_insecure_remote = false;
};

// INVALID_ARGUMENT (a usage error) for tokens without TLS (a token would
// cross the network in clear text), and for a non-loopback address without
// TLS and authentication unless allow_insecure_remote; the message names the
// flags that fix it.
absl::Status CheckExposure(const Exposure& exposure);

}  // namespace streamfit::auth

#endif  // STREAMFIT_SERVER_AUTH_EXPOSURE_H_
