#include "server/kafka/peer_snapshot.h"

#include <grpcpp/grpcpp.h>

#include <chrono>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "core/storage/file_util.h"
#include "server/snapshot_codec.h"
#include "streamfit/v1/streamfit.grpc.pb.h"

namespace streamfit::kafka {

namespace {

// The contents of `path` with surrounding whitespace removed.
absl::StatusOr<std::string> ReadPeerFile(const std::string& flag,
                                         const std::string& path) {
  absl::StatusOr<std::string> contents =
      ReadWholeFile(path, DefaultFileSystem());
  if (!contents.ok()) {
    return absl::UnavailableError(
        absl::StrCat("--", flag, " ", path, ": ", contents.status().message()));
  }
  return std::string(absl::StripAsciiWhitespace(*contents));
}

}  // namespace

absl::StatusOr<TopicCheckpoint> FetchPeerSnapshot(const PeerOptions& options,
                                                  const std::string& model,
                                                  int64_t incarnation,
                                                  const ModelConfig& config) {
  const std::string& peer = options.address;
  std::shared_ptr<grpc::ChannelCredentials> credentials =
      grpc::InsecureChannelCredentials();
  if (!options.ca_file.empty()) {
    grpc::SslCredentialsOptions tls;
    ASSIGN_OR_RETURN(tls.pem_root_certs,
                     ReadPeerFile("bootstrap_peer_ca_file", options.ca_file));
    credentials = grpc::SslCredentials(tls);
  }
  grpc::ClientContext context;
  if (!options.token_file.empty()) {
    ASSIGN_OR_RETURN(
        const std::string token,
        ReadPeerFile("bootstrap_peer_token_file", options.token_file));
    context.AddMetadata("authorization", absl::StrCat("Bearer ", token));
  }
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(-1);  // a snapshot may be large
  const std::unique_ptr<v1::Learner::Stub> stub = v1::Learner::NewStub(
      grpc::CreateCustomChannel(peer, credentials, arguments));
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(60));
  v1::SnapshotRequest request;
  request.set_model(model);
  v1::ModelSnapshot snapshot;
  const grpc::Status status = stub->Snapshot(&context, request, &snapshot);
  if (!status.ok()) {
    return absl::UnavailableError(
        absl::StrCat("bootstrap peer ", peer, " did not give a snapshot of '",
                     model, "': ", status.error_message()));
  }
  if (snapshot.kafka_incarnation() != incarnation) {
    return absl::FailedPreconditionError(absl::StrCat(
        "bootstrap peer ", peer, " holds incarnation ",
        snapshot.kafka_incarnation(), " of '", model, "', not ", incarnation));
  }
  ASSIGN_OR_RETURN(LinearModel state, FromSnapshot(snapshot));
  if (!(state.config() == config) ||
      snapshot.kafka_record_version() > state.version()) {
    return absl::FailedPreconditionError(
        absl::StrCat("bootstrap peer ", peer, "'s snapshot of '", model,
                     "' does not match the catalogue"));
  }
  return TopicCheckpoint{
      std::move(state),
      {snapshot.kafka_offset(), snapshot.kafka_record_version()}};
}

}  // namespace streamfit::kafka
