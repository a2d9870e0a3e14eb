#include "client/learner_client.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/rpc_util.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace streamfit {

LearnerClient::LearnerClient(std::shared_ptr<grpc::Channel> channel,
                             Options options)
    : options_(options), stub_(v1::Learner::NewStub(std::move(channel))) {}

std::unique_ptr<LearnerClient> LearnerClient::Connect(
    const std::string& address, Options options) {
  return std::make_unique<LearnerClient>(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()),
      options);
}

absl::StatusOr<v1::ModelInfo> LearnerClient::CreateModel(
    const std::string& name, const v1::ModelConfig& config) {
  v1::CreateModelRequest request;
  request.set_name(name);
  *request.mutable_config() = config;
  return CallUnary(*stub_, &v1::Learner::Stub::CreateModel, request,
                   options_.timeout);
}

absl::StatusOr<v1::ModelInfo> LearnerClient::GetModel(const std::string& name) {
  v1::GetModelRequest request;
  request.set_name(name);
  return CallUnary(*stub_, &v1::Learner::Stub::GetModel, request,
                   options_.timeout);
}

absl::StatusOr<std::vector<v1::ModelInfo>> LearnerClient::ListModels() {
  absl::StatusOr<v1::ListModelsResponse> response =
      CallUnary(*stub_, &v1::Learner::Stub::ListModels, v1::ListModelsRequest(),
                options_.timeout);
  if (!response.ok()) return response.status();
  return std::vector<v1::ModelInfo>(response->models().begin(),
                                    response->models().end());
}

absl::Status LearnerClient::DeleteModel(const std::string& name) {
  v1::DeleteModelRequest request;
  request.set_name(name);
  return CallUnary(*stub_, &v1::Learner::Stub::DeleteModel, request,
                   options_.timeout)
      .status();
}

absl::StatusOr<v1::ObserveResponse> LearnerClient::Observe(
    const std::string& name, std::span<const v1::Example> examples,
    size_t batch_size, const ProgressCallback& on_progress) {
  if (batch_size == 0) {
    return absl::InvalidArgumentError("batch size must be at least 1");
  }
  grpc::ClientContext context;
  v1::ObserveResponse response;
  std::unique_ptr<grpc::ClientWriter<v1::ObserveRequest>> writer =
      stub_->Observe(&context, &response);
  // Even with no examples, one message goes out to name the model.
  size_t sent = 0;
  do {
    const size_t end = std::min(examples.size(), sent + batch_size);
    v1::ObserveRequest request;
    if (sent == 0) request.set_model(name);
    request.mutable_examples()->Add(examples.begin() + sent,
                                    examples.begin() + end);
    grpc::WriteOptions write_options;
    if (end < examples.size()) write_options.set_buffer_hint();
    // A failed write means the stream is over; Finish says why.
    if (!writer->Write(request, write_options)) break;
    sent = end;
    if (on_progress) on_progress(sent);
  } while (sent < examples.size());
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  if (!status.ok()) return ToAbslStatus(status);
  return response;
}

LearnerClient::StreamResult LearnerClient::ObserveStream(
    const std::string& name, const NextDenseBatch& next, size_t max_in_flight,
    const AckCallback& on_ack) {
  StreamResult result;
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReaderWriter<v1::ObserveRequest, v1::ObserveAck>>
      stream = stub_->ObserveStream(&context);
  size_t in_flight = 0;
  bool broken = false;  // a write or read failed: Finish says why
  v1::ObserveAck ack;
  auto read_ack = [&] {
    if (!stream->Read(&ack)) {
      broken = true;
      return;
    }
    --in_flight;
    result.acked += ack.accepted();
    result.model_version = ack.model_version();
    if (on_ack) on_ack(result.acked, ack);
  };
  bool first = true;
  while (!broken) {
    v1::ObserveRequest request;
    absl::StatusOr<bool> more = next(*request.mutable_dense_batch());
    if (!more.ok()) {
      result.status = more.status();
      break;
    }
    if (!*more) break;
    if (first) request.set_model(name);
    first = false;
    if (!stream->Write(request)) {
      broken = true;
      break;
    }
    ++in_flight;
    while (!broken && in_flight >= std::max<size_t>(max_in_flight, 1)) {
      read_ack();
    }
  }
  stream->WritesDone();
  while (!broken && in_flight > 0) read_ack();
  const grpc::Status status = stream->Finish();
  if (!status.ok()) result.status = ToAbslStatus(status);
  return result;
}

absl::StatusOr<v1::PredictResponse> LearnerClient::Predict(
    const v1::PredictRequest& request) {
  return CallUnary(*stub_, &v1::Learner::Stub::Predict, request,
                   options_.timeout);
}

absl::StatusOr<v1::BatchGap> LearnerClient::MeasureBatchGap(
    const v1::MeasureBatchGapRequest& request) {
  return CallUnary(*stub_, &v1::Learner::Stub::MeasureBatchGap, request,
                   options_.timeout);
}

absl::StatusOr<v1::Challenger> LearnerClient::AddChallenger(
    const v1::AddChallengerRequest& request) {
  return CallUnary(*stub_, &v1::Learner::Stub::AddChallenger, request,
                   options_.timeout);
}

absl::StatusOr<v1::ListChallengersResponse> LearnerClient::ListChallengers(
    const std::string& model) {
  v1::ListChallengersRequest request;
  request.set_model(model);
  return CallUnary(*stub_, &v1::Learner::Stub::ListChallengers, request,
                   options_.timeout);
}

absl::StatusOr<v1::ModelInfo> LearnerClient::PromoteChallenger(
    const std::string& model, const std::string& name) {
  v1::PromoteChallengerRequest request;
  request.set_model(model);
  request.set_name(name);
  return CallUnary(*stub_, &v1::Learner::Stub::PromoteChallenger, request,
                   options_.timeout);
}

absl::Status LearnerClient::RemoveChallenger(const std::string& model,
                                             const std::string& name) {
  v1::RemoveChallengerRequest request;
  request.set_model(model);
  request.set_name(name);
  return CallUnary(*stub_, &v1::Learner::Stub::RemoveChallenger, request,
                   options_.timeout)
      .status();
}

absl::StatusOr<v1::ModelSnapshot> LearnerClient::Snapshot(
    const std::string& name) {
  v1::SnapshotRequest request;
  request.set_model(name);
  return CallUnary(*stub_, &v1::Learner::Stub::Snapshot, request,
                   options_.timeout);
}

absl::StatusOr<v1::ModelInfo> LearnerClient::Restore(
    const std::string& name, const v1::ModelSnapshot& snapshot,
    bool allow_reshape) {
  v1::RestoreRequest request;
  request.set_model(name);
  *request.mutable_snapshot() = snapshot;
  request.set_allow_reshape(allow_reshape);
  return CallUnary(*stub_, &v1::Learner::Stub::Restore, request,
                   options_.timeout);
}

absl::StatusOr<v1::ModelSnapshot> LearnerClient::Snapshot(
    const v1::SnapshotRequest& request) {
  return CallUnary(*stub_, &v1::Learner::Stub::Snapshot, request,
                   options_.timeout);
}

absl::StatusOr<v1::ModelInfo> LearnerClient::Restore(
    const v1::RestoreRequest& request) {
  return CallUnary(*stub_, &v1::Learner::Stub::Restore, request,
                   options_.timeout);
}

absl::StatusOr<v1::ListSnapshotsResponse> LearnerClient::ListSnapshots(
    const std::string& model) {
  v1::ListSnapshotsRequest request;
  request.set_model(model);
  return CallUnary(*stub_, &v1::Learner::Stub::ListSnapshots, request,
                   options_.timeout);
}

absl::Status LearnerClient::DeleteSnapshot(const std::string& name) {
  v1::DeleteSnapshotRequest request;
  request.set_name(name);
  return CallUnary(*stub_, &v1::Learner::Stub::DeleteSnapshot, request,
                   options_.timeout)
      .status();
}

}  // namespace streamfit
