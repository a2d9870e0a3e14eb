// The Snapshot and Restore RPCs and the saved snapshot files of
// LearnerService (ListSnapshots, DeleteSnapshot). File work runs on the file
// worker.
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "core/storage/file_util.h"
#include "server/learner_service.h"
#include "server/proto_convert.h"
#include "server/snapshot_codec.h"
#include "server/snapshot_files.h"

namespace streamfit {

absl::Status LearnerService::NoDataDirectory() {
  return absl::FailedPreconditionError("the server has no data directory");
}

absl::StatusOr<std::string> LearnerService::SavedSnapshotPath(
    absl::string_view field, const std::string& name) const {
  if (store_ == nullptr) return NoDataDirectory();
  return store_->SnapshotPath(field, name);
}

grpc::ServerUnaryReactor* LearnerService::Snapshot(
    grpc::CallbackServerContext* context, const v1::SnapshotRequest* request,
    v1::ModelSnapshot* response) {
  absl::StatusOr<std::shared_ptr<LiveModel>> model =
      registry_->Get(request->model());
  if (!model.ok() || request->to_file().empty()) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    if (model.ok()) SnapshotOf(**model, *(*model)->learner.Current(), response);
    reactor->Finish(ToGrpcStatus(model.status()));
    return reactor;
  }
  // The state to save is the one published now, not when the worker runs.
  return OnFileWorker(context, [this, request, response, model = *model,
                                state = (*model)->learner.Current()] {
    SnapshotOf(*model, *state, response);
    if (store_ == nullptr) return NoDataDirectory();
    absl::StatusOr<std::string> path =
        store_->NewSnapshotPath(request->to_file());
    if (!path.ok()) return path.status();
    return WriteFileAtomically(*path, EncodeSnapshotFile(*response),
                               store_->file_system());
  });
}

void LearnerService::SnapshotOf(const LiveModel& model,
                                const LinearModel& state,
                                v1::ModelSnapshot* snapshot) const {
  const std::shared_ptr<kafka::ModelTopic> topic =
      kafka_ != nullptr ? kafka_->Topic(model.name) : nullptr;
  if (topic != nullptr) {
    topic->Describe(state, snapshot);
  } else {
    ToSnapshot(model.name, state, snapshot);
  }
}

grpc::ServerUnaryReactor* LearnerService::ListSnapshots(
    grpc::CallbackServerContext* context,
    const v1::ListSnapshotsRequest* request,
    v1::ListSnapshotsResponse* response) {
  return OnFileWorker(context, [this, request, response]() -> absl::Status {
    if (store_ == nullptr) return NoDataDirectory();
    absl::StatusOr<v1::ListSnapshotsResponse> list = ListSnapshotFiles(
        store_->SnapshotDir(), request->model(), store_->file_system());
    if (!list.ok()) return list.status();
    *response = *std::move(list);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* LearnerService::DeleteSnapshot(
    grpc::CallbackServerContext* context,
    const v1::DeleteSnapshotRequest* request, v1::DeleteSnapshotResponse*) {
  return OnFileWorker(context, [this, request]() -> absl::Status {
    absl::StatusOr<std::string> path =
        SavedSnapshotPath("name", request->name());
    if (!path.ok()) return path.status();
    return DeleteSnapshotFile(*path, request->name(), store_->file_system());
  });
}

grpc::ServerUnaryReactor* LearnerService::Restore(
    grpc::CallbackServerContext* context, const v1::RestoreRequest* request,
    v1::ModelInfo* response) {
  return OnFileWorker(context, [this, request, response] {
    return RestoreModel(*request, response);
  });
}

absl::Status LearnerService::RestoreModel(const v1::RestoreRequest& request,
                                          v1::ModelInfo* response) {
  const v1::ModelSnapshot* snapshot = &request.snapshot();
  v1::ModelSnapshot saved;
  if (!request.snapshot_name().empty()) {
    if (request.has_snapshot()) {
      return absl::InvalidArgumentError(
          "snapshot and snapshot_name: give one, not both");
    }
    ASSIGN_OR_RETURN(
        const std::string path,
        SavedSnapshotPath("snapshot_name", request.snapshot_name()));
    ASSIGN_OR_RETURN(saved, ReadSnapshotFile(path, request.snapshot_name(),
                                             store_->file_system()));
    snapshot = &saved;
  }
  auto invalid = [](const absl::Status& s) {
    return absl::InvalidArgumentError(absl::StrCat("snapshot: ", s.message()));
  };
  // Cheap checks first: the model, the snapshot's shape and size, and only
  // then the state itself (allocated and validated by FromSnapshot).
  ASSIGN_OR_RETURN(const std::shared_ptr<LiveModel> live,
                   registry_->Get(request.model()));
  const absl::StatusOr<ModelConfig> config =
      WithDefaults(FromProto(snapshot->config()));
  if (!config.ok()) return invalid(config.status());
  RETURN_IF_ERROR(CheckReshape(*live, *config, request.allow_reshape()));
  RETURN_IF_ERROR(registry_->CheckModelSize(*config));
  absl::StatusOr<LinearModel> state = FromSnapshot(*snapshot);
  if (!state.ok()) return invalid(state.status());
  std::shared_ptr<LiveModel> model;
  if (kafka_ != nullptr) {  // through the catalogue, on every replica
    v1::RestoreRequest record = request;
    if (snapshot == &saved) *record.mutable_snapshot() = std::move(saved);
    ASSIGN_OR_RETURN(model, kafka_->Restore(record));
  } else {
    ASSIGN_OR_RETURN(
        model,
        registry_->Restore(request.model(), *state, request.allow_reshape(),
                           {request.snapshot_name(), snapshot->model()}));
  }
  FillModelInfo(*model, response);
  return absl::OkStatus();
}

}  // namespace streamfit
