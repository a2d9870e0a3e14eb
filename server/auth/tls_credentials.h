// The server's TLS credentials, rotated without a restart.
//
// gRPC reads the certificate, key and client CA through its file watcher,
// pointed at private copies in a runtime directory (mode 0700). Reload -
// run on SIGHUP - re-reads the configured files, checks that the key matches
// the certificate and that every file parses, and only then replaces the
// copies: new handshakes use the new files within the watcher's refresh
// interval (a second), open connections keep theirs, and a bad rotation
// leaves the old files in service. Thread-safe.
#ifndef STREAMFIT_SERVER_AUTH_TLS_CREDENTIALS_H_
#define STREAMFIT_SERVER_AUTH_TLS_CREDENTIALS_H_

#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace streamfit::auth {

struct TlsFiles {
  std::string cert_file;       // PEM certificate chain
  std::string key_file;        // PEM private key
  std::string client_ca_file;  // when set, clients must present a
                               // certificate signed by it (mutual TLS)
  bool enabled() const { return !cert_file.empty(); }
};

class TlsCredentials {
 public:
  // Validates and copies the files into a new directory under
  // `runtime_parent` (a temporary directory when empty). INVALID_ARGUMENT
  // for a cert without a key (or the reverse), FAILED_PRECONDITION for files
  // that do not parse or do not match.
  static absl::StatusOr<std::unique_ptr<TlsCredentials>> Create(
      const TlsFiles& files, const std::string& runtime_parent);
  ~TlsCredentials();  // removes the copies

  std::shared_ptr<grpc::ServerCredentials> server_credentials() const {
    return credentials_;
  }
  const TlsFiles& files() const { return files_; }

  // Re-reads the configured files; on error the served files are unchanged.
  absl::Status Reload() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  TlsCredentials(TlsFiles files, std::string runtime_dir)
      : files_(std::move(files)), runtime_dir_(std::move(runtime_dir)) {}
  std::string CopyPath(const char* name) const;

  const TlsFiles files_;
  const std::string runtime_dir_;
  std::shared_ptr<grpc::ServerCredentials> credentials_;
  absl::Mutex mu_;  // serializes reloads
};

}  // namespace streamfit::auth

#endif  // STREAMFIT_SERVER_AUTH_TLS_CREDENTIALS_H_
