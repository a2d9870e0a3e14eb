#include "server/kafka/peer_snapshot.h"

#include <grpcpp/grpcpp.h>

#include <chrono>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "server/snapshot_codec.h"
#include "streamfit/v1/streamfit.grpc.pb.h"

namespace streamfit::kafka {

absl::StatusOr<TopicCheckpoint> FetchPeerSnapshot(const std::string& peer,
                                                  const std::string& model,
                                                  int64_t incarnation,
                                                  const ModelConfig& config) {
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(-1);  // a snapshot may be large
  const std::unique_ptr<v1::Learner::Stub> stub =
      v1::Learner::NewStub(grpc::CreateCustomChannel(
          peer, grpc::InsecureChannelCredentials(), arguments));
  grpc::ClientContext context;
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
