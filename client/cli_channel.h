// The channel the `streamfit` tool talks over, built from its connection
// flags: --server, TLS (--tls, --tls_ca_file, --tls_cert_file,
// --tls_key_file for mutual TLS) and a bearer token (--token_file, sent as
// "authorization: Bearer <token>" metadata on every call; TLS only, so a
// token never crosses the network in clear text). Stateless.
#ifndef STREAMFIT_CLIENT_CLI_CHANNEL_H_
#define STREAMFIT_CLIENT_CLI_CHANNEL_H_

#include <grpcpp/channel.h>

#include <memory>

#include "absl/status/statusor.h"

namespace streamfit {

// INVALID_ARGUMENT (a usage error) for an inconsistent flag set; NOT_FOUND
// or PERMISSION_DENIED if a named file cannot be read.
absl::StatusOr<std::shared_ptr<grpc::Channel>> ChannelFromFlags();

}  // namespace streamfit

#endif  // STREAMFIT_CLIENT_CLI_CHANNEL_H_
