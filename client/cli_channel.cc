#include "client/cli_channel.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <fstream>
#include <sstream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "client/cli_flags.h"

namespace streamfit {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& flag,
                                     const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("--", flag, ": cannot read ", path));
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::Channel>> ChannelFromFlags() {
  const std::string address = absl::GetFlag(FLAGS_server);
  const std::string ca_file = absl::GetFlag(FLAGS_tls_ca_file);
  const std::string cert_file = absl::GetFlag(FLAGS_tls_cert_file);
  const std::string key_file = absl::GetFlag(FLAGS_tls_key_file);
  const std::string token_file = absl::GetFlag(FLAGS_token_file);
  const bool tls = absl::GetFlag(FLAGS_tls) || !ca_file.empty() ||
                   !cert_file.empty() || !key_file.empty();
  if (cert_file.empty() != key_file.empty()) {
    return absl::InvalidArgumentError(
        "--tls_cert_file and --tls_key_file go together (mutual TLS)");
  }
  if (!tls) {
    if (!token_file.empty()) {
      return absl::InvalidArgumentError(
          "--token_file needs TLS (--tls or --tls_ca_file): a bearer token "
          "is never sent in clear text");
    }
    return grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  }
  grpc::SslCredentialsOptions ssl;
  if (!ca_file.empty()) {
    absl::StatusOr<std::string> ca = ReadFile("tls_ca_file", ca_file);
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *std::move(ca);
  }
  if (!cert_file.empty()) {
    absl::StatusOr<std::string> cert = ReadFile("tls_cert_file", cert_file);
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadFile("tls_key_file", key_file);
    if (!key.ok()) return key.status();
    ssl.pem_cert_chain = *std::move(cert);
    ssl.pem_private_key = *std::move(key);
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials =
      grpc::SslCredentials(ssl);
  if (!token_file.empty()) {
    absl::StatusOr<std::string> token = ReadFile("token_file", token_file);
    if (!token.ok()) return token.status();
    const std::string trimmed(absl::StripAsciiWhitespace(*token));
    if (trimmed.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--token_file: ", token_file, " is empty"));
    }
    credentials = grpc::CompositeChannelCredentials(
        credentials, grpc::AccessTokenCredentials(trimmed));
  }
  return grpc::CreateChannel(address, credentials);
}

}  // namespace streamfit
