// Authenticates and authorizes every call on a TLS port: a gRPC
// AuthMetadataProcessor that runs before any handler.
//
// The caller is the entry of the credential table matching its
// "authorization: Bearer <token>" metadata, else the entry for its client
// certificate's common name (mutual TLS), else - when the server requires
// client certificates and the table has no certificate entries - an admin
// named by the certificate (the client CA is then the authority). No
// principal: UNAUTHENTICATED; a principal whose role does not include the
// method's (roles.h): PERMISSION_DENIED; a token that matches nothing:
// UNAUTHENTICATED. Health checking and reflection are open. The token is
// consumed (handlers never see it) and never logged; the principal's name
// and role go into the call's AuthContext (caller.h). Thread-safe; the
// table can be replaced while serving (SIGHUP).
#ifndef STREAMFIT_SERVER_AUTH_AUTH_PROCESSOR_H_
#define STREAMFIT_SERVER_AUTH_AUTH_PROCESSOR_H_

#include <grpcpp/security/auth_metadata_processor.h>

#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/auth/credential_table.h"

namespace streamfit::auth {

class AuthProcessor final : public grpc::AuthMetadataProcessor {
 public:
  // `certificates_are_admins`: a verified client certificate with no table
  // entry is an admin (mutual TLS without per-certificate roles).
  AuthProcessor(CredentialTable table, bool certificates_are_admins)
      : table_(std::make_shared<const CredentialTable>(std::move(table))),
        certificates_are_admins_(certificates_are_admins) {}

  void Replace(CredentialTable table) ABSL_LOCKS_EXCLUDED(mu_);

  // Runs inline on gRPC's thread: no blocking work.
  bool IsBlocking() const override { return false; }
  grpc::Status Process(const InputMetadata& auth_metadata,
                       grpc::AuthContext* context,
                       OutputMetadata* consumed_auth_metadata,
                       OutputMetadata* response_metadata) override;

 private:
  std::shared_ptr<const CredentialTable> Table() const ABSL_LOCKS_EXCLUDED(mu_);

  mutable absl::Mutex mu_;
  std::shared_ptr<const CredentialTable> table_ ABSL_GUARDED_BY(mu_);
  const bool certificates_are_admins_;
};

}  // namespace streamfit::auth

#endif  // STREAMFIT_SERVER_AUTH_AUTH_PROCESSOR_H_
