// The Snapshot RPC and the saved snapshot files of LearnerService
// (ListSnapshots, DeleteSnapshot). File work runs on the file worker.
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/file_util.h"
#include "server/learner_service.h"
#include "server/proto_convert.h"
#include "server/snapshot_codec.h"
#include "server/snapshot_files.h"

namespace streamfit {
namespace {

absl::Status NoDataDirectory() {
  return absl::FailedPreconditionError("the server has no data directory");
}

}  // namespace

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
    if (model.ok())
      ToSnapshot((*model)->name, *(*model)->learner.Current(), response);
    reactor->Finish(ToGrpcStatus(model.status()));
    return reactor;
  }
  // The state to save is the one published now, not when the worker runs.
  return OnFileWorker(context, [this, request, response, name = (*model)->name,
                                state = (*model)->learner.Current()] {
    ToSnapshot(name, *state, response);
    if (store_ == nullptr) return NoDataDirectory();
    absl::StatusOr<std::string> path =
        store_->NewSnapshotPath(request->to_file());
    if (!path.ok()) return path.status();
    return WriteFileAtomically(*path, EncodeSnapshotFile(*response),
                               store_->file_system());
  });
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

}  // namespace streamfit
