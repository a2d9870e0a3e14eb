#include "server/learner_service.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "server/proto_convert.h"

namespace streamfit {
namespace {

grpc::ServerUnaryReactor* FinishWith(grpc::CallbackServerContext* context,
                                     const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

// Reads an Observe stream: validates each message, queues it for the model's
// learner, and reads the next only once it is queued (backpressure). Replies
// when every accepted example has been applied. Owned by gRPC until OnDone.
class ObserveReactor final : public grpc::ServerReadReactor<v1::ObserveRequest> {
 public:
  ObserveReactor(ModelRegistry* registry, v1::ObserveResponse* response)
      : registry_(registry), response_(response) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the client finished sending (or the call was cancelled)
      FinishWhenApplied();
      return;
    }
    const absl::Status status = Accept();
    if (!status.ok()) Finish(ToGrpcStatus(status));
  }

  void OnDone() override { delete this; }

 private:
  // Validates the current message and queues it; reads on once it is queued.
  absl::Status Accept() {
    if (model_ == nullptr || !request_.model().empty()) {
      if (model_ != nullptr && request_.model() != model_->name) {
        return absl::InvalidArgumentError(
            absl::StrCat("a stream observes one model: '", model_->name,
                         "', not '", request_.model(), "'"));
      }
      if (model_ == nullptr) {
        absl::StatusOr<std::shared_ptr<LiveModel>> model =
            registry_->Get(request_.model());
        if (!model.ok()) return model.status();
        model_ = *std::move(model);
      }
    }
    absl::StatusOr<ExampleBatch> batch =
        ToExampleBatch(request_.examples(), model_->config);
    if (!batch.ok()) return batch.status();
    const size_t n = batch->size();
    if (n == 0) {
      StartRead(&request_);
      return absl::OkStatus();
    }
    model_->learner.Submit(*std::move(batch),
                           [this, n](absl::StatusOr<uint64_t> end_version) {
                             if (!end_version.ok()) {
                               Finish(ToGrpcStatus(end_version.status()));
                               return;
                             }
                             accepted_ += n;
                             last_version_ = *end_version;
                             StartRead(&request_);
                           });
    return absl::OkStatus();
  }

  void FinishWhenApplied() {
    if (accepted_ == 0) {
      response_->set_accepted(0);
      response_->set_model_version(model_ ? model_->learner.Current()->version()
                                          : 0);
      Finish(grpc::Status::OK);
      return;
    }
    model_->learner.WhenVersion(
        last_version_,
        [this](absl::StatusOr<std::shared_ptr<const LinearModel>> state) {
          if (!state.ok()) {
            Finish(ToGrpcStatus(state.status()));
            return;
          }
          response_->set_accepted(accepted_);
          response_->set_model_version(last_version_);
          Finish(grpc::Status::OK);
        });
  }

  ModelRegistry* const registry_;
  v1::ObserveResponse* const response_;
  v1::ObserveRequest request_;
  std::shared_ptr<LiveModel> model_;
  uint64_t accepted_ = 0;
  uint64_t last_version_ = 0;
};

// Answers one Predict, waiting for `min_version` when asked. Finishes exactly
// once: from the learner's version callback or from OnCancel (deadline or
// client cancel), whichever comes first. Kept alive by shared_ptr so a late
// learner callback never touches a deleted reactor.
class PredictReactor final
    : public grpc::ServerUnaryReactor,
      public std::enable_shared_from_this<PredictReactor> {
 public:
  static grpc::ServerUnaryReactor* Start(std::shared_ptr<LiveModel> model,
                                         const v1::PredictRequest* request,
                                         v1::PredictResponse* response) {
    auto reactor = std::shared_ptr<PredictReactor>(
        new PredictReactor(std::move(model), request, response));
    reactor->self_ = reactor;
    reactor->model_->learner.WhenVersion(
        request->min_version(),
        [weak = std::weak_ptr<PredictReactor>(reactor)](
            absl::StatusOr<std::shared_ptr<const LinearModel>> state) {
          if (auto r = weak.lock()) r->Answer(state);
        });
    return reactor.get();
  }

  void OnCancel() override {
    auto keep_alive = shared_from_this();
    if (!Claim()) return;
    Finish(grpc::Status(
        grpc::StatusCode::DEADLINE_EXCEEDED,
        absl::StrCat("model '", model_->name, "' did not reach version ",
                     request_->min_version(), " in time")));
  }
  void OnDone() override { self_.reset(); }

 private:
  PredictReactor(std::shared_ptr<LiveModel> model,
                 const v1::PredictRequest* request,
                 v1::PredictResponse* response)
      : model_(std::move(model)), request_(request), response_(response) {}

  void Answer(const absl::StatusOr<std::shared_ptr<const LinearModel>>& state) {
    if (!Claim()) return;
    Finish(ToGrpcStatus(state.ok() ? PredictFromState(**state, *request_,
                                                      response_)
                                   : state.status()));
  }

  // True for the first of the two finishers only.
  bool Claim() {
    absl::MutexLock lock(&mu_);
    if (finished_) return false;
    finished_ = true;
    return true;
  }

  const std::shared_ptr<LiveModel> model_;
  const v1::PredictRequest* const request_;
  v1::PredictResponse* const response_;
  absl::Mutex mu_;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::shared_ptr<PredictReactor> self_;  // released in OnDone
};

}  // namespace

grpc::ServerUnaryReactor* LearnerService::CreateModel(
    grpc::CallbackServerContext* context, const v1::CreateModelRequest* request,
    v1::ModelInfo* response) {
  absl::StatusOr<std::shared_ptr<LiveModel>> model =
      registry_->Create(request->name(), FromProto(request->config()));
  if (model.ok()) {
    ToModelInfo((*model)->name, *(*model)->learner.Current(), response);
  }
  return FinishWith(context, model.status());
}

grpc::ServerUnaryReactor* LearnerService::GetModel(
    grpc::CallbackServerContext* context, const v1::GetModelRequest* request,
    v1::ModelInfo* response) {
  absl::StatusOr<std::shared_ptr<LiveModel>> model =
      registry_->Get(request->name());
  if (model.ok()) {
    ToModelInfo((*model)->name, *(*model)->learner.Current(), response);
  }
  return FinishWith(context, model.status());
}

grpc::ServerUnaryReactor* LearnerService::ListModels(
    grpc::CallbackServerContext* context, const v1::ListModelsRequest*,
    v1::ListModelsResponse* response) {
  for (const auto& model : registry_->List()) {
    ToModelInfo(model->name, *model->learner.Current(),
                response->add_models());
  }
  return FinishWith(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* LearnerService::DeleteModel(
    grpc::CallbackServerContext* context, const v1::DeleteModelRequest* request,
    v1::DeleteModelResponse*) {
  absl::Status status = ValidateModelName(request->name());
  if (status.ok()) status = registry_->Delete(request->name());
  return FinishWith(context, status);
}

grpc::ServerReadReactor<v1::ObserveRequest>* LearnerService::Observe(
    grpc::CallbackServerContext*, v1::ObserveResponse* response) {
  return new ObserveReactor(registry_, response);
}

grpc::ServerUnaryReactor* LearnerService::Predict(
    grpc::CallbackServerContext* context, const v1::PredictRequest* request,
    v1::PredictResponse* response) {
  absl::StatusOr<std::shared_ptr<LiveModel>> model =
      registry_->Get(request->model());
  if (!model.ok()) return FinishWith(context, model.status());
  std::shared_ptr<const LinearModel> state = (*model)->learner.Current();
  if (state->version() >= request->min_version()) {  // the common case
    return FinishWith(context, PredictFromState(*state, *request, response));
  }
  return PredictReactor::Start(*std::move(model), request, response);
}

grpc::ServerUnaryReactor* LearnerService::Snapshot(
    grpc::CallbackServerContext* context, const v1::SnapshotRequest* request,
    v1::ModelSnapshot* response) {
  absl::StatusOr<std::shared_ptr<LiveModel>> model =
      registry_->Get(request->model());
  if (model.ok()) {
    ToSnapshot((*model)->name, *(*model)->learner.Current(), response);
  }
  return FinishWith(context, model.status());
}

}  // namespace streamfit
