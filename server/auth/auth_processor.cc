#include "server/auth/auth_processor.h"

#include <grpc/grpc_security_constants.h>

#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "server/auth/caller.h"

namespace streamfit::auth {
namespace {

absl::string_view View(const grpc::string_ref& s) {
  return absl::string_view(s.data(), s.size());
}

std::optional<absl::string_view> Find(
    const grpc::AuthMetadataProcessor::InputMetadata& metadata,
    absl::string_view key) {
  const auto it = metadata.find(grpc::string_ref(key.data(), key.size()));
  if (it == metadata.end()) return std::nullopt;
  return View(it->second);
}

std::string FirstProperty(const grpc::AuthContext& context, const char* name) {
  const std::vector<grpc::string_ref> values = context.FindPropertyValues(name);
  if (values.empty()) return "";
  return std::string(values.front().data(), values.front().size());
}

}  // namespace

void AuthProcessor::Replace(CredentialTable table) {
  auto replacement = std::make_shared<const CredentialTable>(std::move(table));
  absl::MutexLock lock(&mu_);
  table_ = std::move(replacement);
}

std::shared_ptr<const CredentialTable> AuthProcessor::Table() const {
  absl::MutexLock lock(&mu_);
  return table_;
}

grpc::Status AuthProcessor::Process(const InputMetadata& auth_metadata,
                                    grpc::AuthContext* context,
                                    OutputMetadata* consumed_auth_metadata,
                                    OutputMetadata* /*response_metadata*/) {
  const std::optional<absl::string_view> path = Find(auth_metadata, ":path");
  const std::optional<Role> required =
      RequiredRole(path.has_value() ? *path : "");
  const std::optional<absl::string_view> authorization =
      Find(auth_metadata, "authorization");
  if (authorization.has_value()) {
    // Handlers never see the credential.
    consumed_auth_metadata->insert(
        {"authorization", std::string(*authorization)});
  }
  if (!required.has_value()) return grpc::Status::OK;  // health, reflection

  const std::shared_ptr<const CredentialTable> table = Table();
  std::optional<Principal> principal;
  if (authorization.has_value()) {
    absl::string_view token = *authorization;
    if (!absl::ConsumePrefix(&token, "Bearer ")) {
      return grpc::Status(
          grpc::StatusCode::UNAUTHENTICATED,
          "the authorization metadata must be 'Bearer <token>'");
    }
    principal = table->FindToken(token);
    if (!principal.has_value()) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          "the bearer token is not valid");
    }
  } else {
    const std::string common_name =
        FirstProperty(*context, GRPC_X509_CN_PROPERTY_NAME);
    if (!common_name.empty()) {
      principal = table->FindCommonName(common_name);
      if (!principal.has_value() && certificates_are_admins_ &&
          table->common_names() == 0) {
        principal = Principal{absl::StrCat("cn:", common_name), Role::kAdmin};
      }
    }
  }
  if (!principal.has_value()) {
    return grpc::Status(
        grpc::StatusCode::UNAUTHENTICATED,
        "no credentials: send 'authorization: Bearer <token>' metadata or a "
        "client certificate the server maps to a role");
  }
  if (!Includes(principal->role, *required)) {
    return grpc::Status(
        grpc::StatusCode::PERMISSION_DENIED,
        absl::StrCat("role '", RoleName(principal->role), "' may not call ",
                     path.has_value() ? *path : "this method", " (needs ",
                     RoleName(*required), ")"));
  }
  context->AddProperty(kPrincipalProperty, principal->name);
  context->AddProperty(kRoleProperty, std::string(RoleName(principal->role)));
  return grpc::Status::OK;
}

}  // namespace streamfit::auth
