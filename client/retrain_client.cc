// LearnerClient's dataset and retrain calls.
#include <cstdio>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/learner_client.h"
#include "client/rpc_util.h"

namespace streamfit {

absl::StatusOr<v1::DatasetInfo> LearnerClient::UploadDataset(
    const std::string& path, v1::UploadDatasetRequest spec, size_t chunk_bytes,
    const ProgressCallback& on_progress) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(
      std::fopen(path.c_str(), "rb"), &std::fclose);
  if (file == nullptr) {
    return absl::NotFoundError(absl::StrCat("cannot open ", path));
  }
  std::fseek(file.get(), 0, SEEK_END);
  const long size = std::ftell(file.get());
  std::fseek(file.get(), 0, SEEK_SET);
  if (size <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is empty"));
  }
  spec.set_total_bytes(size);
  spec.clear_data();

  grpc::ClientContext context;
  v1::DatasetInfo info;
  auto writer = stub_->UploadDataset(&context, &info);
  std::vector<char> buffer(std::max<size_t>(chunk_bytes, 1));
  uint64_t sent = 0;
  v1::UploadDatasetRequest message = spec;
  for (;;) {
    const size_t n = std::fread(buffer.data(), 1, buffer.size(), file.get());
    if (n == 0) break;
    message.set_data(buffer.data(), n);
    if (!writer->Write(message)) break;  // the server ended the call
    sent += n;
    if (on_progress) on_progress(sent);
    message.Clear();  // the description goes in the first message only
  }
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  if (!status.ok()) return ToAbslStatus(status);
  return info;
}

absl::StatusOr<std::vector<v1::DatasetInfo>> LearnerClient::ListDatasets() {
  absl::StatusOr<v1::ListDatasetsResponse> response =
      CallUnary(*stub_, &v1::Learner::Stub::ListDatasets,
                v1::ListDatasetsRequest(), options_.timeout);
  if (!response.ok()) return response.status();
  return std::vector<v1::DatasetInfo>(response->datasets().begin(),
                                      response->datasets().end());
}

absl::Status LearnerClient::DeleteDataset(const std::string& id) {
  v1::DeleteDatasetRequest request;
  request.set_id(id);
  return CallUnary(*stub_, &v1::Learner::Stub::DeleteDataset, request,
                   options_.timeout)
      .status();
}

absl::StatusOr<v1::RetrainJob> LearnerClient::Retrain(
    const v1::RetrainRequest& request) {
  return CallUnary(*stub_, &v1::Learner::Stub::Retrain, request,
                   options_.timeout);
}

absl::StatusOr<v1::RetrainJob> LearnerClient::GetRetrainJob(
    const std::string& id) {
  v1::GetRetrainJobRequest request;
  request.set_id(id);
  return CallUnary(*stub_, &v1::Learner::Stub::GetRetrainJob, request,
                   options_.timeout);
}

absl::StatusOr<v1::RetrainJob> LearnerClient::CancelRetrainJob(
    const std::string& id) {
  v1::CancelRetrainJobRequest request;
  request.set_id(id);
  return CallUnary(*stub_, &v1::Learner::Stub::CancelRetrainJob, request,
                   options_.timeout);
}

absl::StatusOr<std::vector<v1::RetrainJob>> LearnerClient::ListRetrainJobs() {
  absl::StatusOr<v1::ListRetrainJobsResponse> response =
      CallUnary(*stub_, &v1::Learner::Stub::ListRetrainJobs,
                v1::ListRetrainJobsRequest(), options_.timeout);
  if (!response.ok()) return response.status();
  return std::vector<v1::RetrainJob>(response->jobs().begin(),
                                     response->jobs().end());
}

absl::StatusOr<v1::RetrainJob> LearnerClient::WatchRetrainJob(
    const std::string& id,
    const std::function<void(const v1::RetrainJob&)>& on_update) {
  v1::GetRetrainJobRequest request;
  request.set_id(id);
  grpc::ClientContext context;
  auto reader = stub_->WatchRetrainJob(&context, request);
  v1::RetrainJob job, last;
  bool any = false;
  while (reader->Read(&job)) {
    any = true;
    if (on_update) on_update(job);
    last = job;
  }
  grpc::Status status = reader->Finish();
  if (!status.ok()) return ToAbslStatus(status);
  if (!any) return absl::UnavailableError("the watch ended without a state");
  return last;
}

absl::Status LearnerClient::WatchModel(
    const std::string& model, const std::function<void()>& on_watching,
    const std::function<void(const v1::ModelEvent&)>& on_event) {
  v1::WatchModelRequest request;
  request.set_model(model);
  grpc::ClientContext context;
  auto reader = stub_->WatchModel(&context, request);
  reader->WaitForInitialMetadata();
  on_watching();
  v1::ModelEvent event;
  while (reader->Read(&event)) on_event(event);
  return ToAbslStatus(reader->Finish());
}

}  // namespace streamfit
