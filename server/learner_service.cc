#include "server/learner_service.h"

#include <deque>
#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "core/file_util.h"
#include "server/proto_convert.h"
#include "server/reactor_handoff.h"
#include "server/snapshot_codec.h"

namespace streamfit {
namespace {

grpc::ServerUnaryReactor* FinishWith(grpc::CallbackServerContext* context,
                                     const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

// Resolves the model a stream observes: the first message must name it and
// later ones may only repeat that name.
absl::Status BindModel(const ModelRegistry& registry,
                       const v1::ObserveRequest& request,
                       std::shared_ptr<LiveModel>& model) {
  if (model != nullptr) {
    if (request.model().empty() || request.model() == model->name) {
      return absl::OkStatus();
    }
    return absl::InvalidArgumentError(
        absl::StrCat("a stream observes one model: '", model->name, "', not '",
                     request.model(), "'"));
  }
  absl::StatusOr<std::shared_ptr<LiveModel>> found =
      registry.Get(request.model());
  if (!found.ok()) return found.status();
  model = *std::move(found);
  return absl::OkStatus();
}

// Reads an Observe stream: validates each message, queues it for the model's
// learner, and reads the next only once it is queued (backpressure). Replies
// when every accepted example has been applied. Owned by gRPC until OnDone.
class ObserveReactor final
    : public HandedOffReactor<grpc::ServerReadReactor<v1::ObserveRequest>> {
 public:
  ObserveReactor(ModelRegistry* registry, v1::ObserveResponse* response)
      : registry_(registry), response_(response) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    Reacting();
    if (!ok) {  // the client finished sending (or the call was cancelled)
      FinishWhenApplied();
      return;
    }
    const absl::Status status = Accept();
    if (!status.ok()) Finish(ToGrpcStatus(status));
  }

  void OnDone() override {
    Reacting();
    delete this;
  }

 private:
  // Validates the current message and queues it; reads on once it is queued.
  absl::Status Accept() {
    if (absl::Status s = BindModel(*registry_, request_, model_); !s.ok()) {
      return s;
    }
    absl::StatusOr<ExampleBatch> batch =
        ToExampleBatch(request_, model_->config);
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

// Serves ObserveStream: like ObserveReactor, but acks every request once it
// is queued, in order. Reads on as soon as a request is queued, so many
// requests can be in flight; stops reading while kMaxUnwrittenAcks acks wait
// for a slow reader, so memory stays bounded. On a bad request, the acks of
// the requests before it are written first, then the stream ends with the
// error. Owned by gRPC until OnDone.
class ObserveStreamReactor final
    : public HandedOffReactor<
          grpc::ServerBidiReactor<v1::ObserveRequest, v1::ObserveAck>> {
 public:
  explicit ObserveStreamReactor(ModelRegistry* registry) : registry_(registry) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    Reacting();
    if (!ok) {  // the client finished sending (or the call was cancelled)
      EndReading(absl::OkStatus());
      return;
    }
    absl::Status status = BindModel(*registry_, request_, model_);
    absl::StatusOr<ExampleBatch> batch =
        status.ok() ? ToExampleBatch(request_, model_->config)
                    : absl::StatusOr<ExampleBatch>(status);
    if (!batch.ok()) {
      EndReading(batch.status());
      return;
    }
    const uint64_t n = batch->size();
    model_->learner.Submit(*std::move(batch),
                           [this, n](absl::StatusOr<uint64_t> end_version) {
                             if (end_version.ok()) {
                               Acknowledge(n, *end_version);
                             } else {
                               EndReading(end_version.status());
                             }
                           });
  }

  void OnWriteDone(bool ok) override {
    Reacting();
    bool read_next = false;
    const v1::ObserveAck* next;
    std::optional<grpc::Status> finish;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      acks_.pop_front();
      if (!ok) {  // the client went away
        acks_.clear();
        reads_done_ = true;
        error_ = absl::CancelledError("the client stopped reading acks");
      }
      if (read_paused_ && !reads_done_) {
        read_paused_ = false;
        read_next = true;
      }
      next = NextWrite();
      finish = FinishStatus();
    }
    Act(read_next, next, finish);
  }

  void OnDone() override {
    Reacting();
    delete this;
  }

 private:
  static constexpr size_t kMaxUnwrittenAcks = 1024;

  void Acknowledge(uint64_t accepted, uint64_t version) {
    bool read_next;
    const v1::ObserveAck* next;
    {
      absl::MutexLock lock(&mu_);
      acks_.emplace_back().set_accepted(accepted);
      acks_.back().set_model_version(version);
      read_next = acks_.size() < kMaxUnwrittenAcks;
      read_paused_ = !read_next;
      next = NextWrite();
    }
    Act(read_next, next, std::nullopt);
  }

  // No more reads: the client is done, or `error` ends the stream once the
  // acks before it are written.
  void EndReading(const absl::Status& error) {
    std::optional<grpc::Status> finish;
    {
      absl::MutexLock lock(&mu_);
      reads_done_ = true;
      if (!error.ok()) error_ = error;
      finish = FinishStatus();
    }
    Act(false, nullptr, finish);
  }

  // The ack to write next, if no write is in flight.
  const v1::ObserveAck* NextWrite() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || acks_.empty()) return nullptr;
    writing_ = true;
    return &acks_.front();  // stable: deques keep elements in place
  }

  // The final status, once reading has ended and every ack is written.
  std::optional<grpc::Status> FinishStatus()
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || !reads_done_ || writing_ || !acks_.empty()) {
      return std::nullopt;
    }
    finished_ = true;
    return error_.ok() ? grpc::Status::OK : ToGrpcStatus(error_);
  }

  // Starts operations decided under the lock, outside it.
  void Act(bool read_next, const v1::ObserveAck* write,
           const std::optional<grpc::Status>& finish) {
    if (write != nullptr) StartWrite(write);
    if (read_next) StartRead(&request_);
    if (finish.has_value()) Finish(*finish);
  }

  ModelRegistry* const registry_;
  v1::ObserveRequest request_;  // the read in progress
  std::shared_ptr<LiveModel> model_;

  absl::Mutex mu_;
  std::deque<v1::ObserveAck> acks_ ABSL_GUARDED_BY(mu_);  // front: writing
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool read_paused_ ABSL_GUARDED_BY(mu_) = false;
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
};

// Answers one Predict, waiting for `min_version` when asked. Finishes exactly
// once: from the learner's version callback or from OnCancel (deadline or
// client cancel), whichever comes first. Kept alive by shared_ptr so a late
// learner callback never touches a deleted reactor.
class PredictReactor final
    : public HandedOffReactor<grpc::ServerUnaryReactor>,
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
    reactor->HandOff();
    return reactor.get();
  }

  void OnCancel() override {
    Reacting();
    auto keep_alive = shared_from_this();
    if (!Claim()) return;
    Finish(grpc::Status(
        grpc::StatusCode::DEADLINE_EXCEEDED,
        absl::StrCat("model '", model_->name, "' did not reach version ",
                     request_->min_version(), " in time")));
  }
  void OnDone() override {
    Reacting();
    self_.reset();
  }

 private:
  PredictReactor(std::shared_ptr<LiveModel> model,
                 const v1::PredictRequest* request,
                 v1::PredictResponse* response)
      : model_(std::move(model)), request_(request), response_(response) {}

  void Answer(const absl::StatusOr<std::shared_ptr<const LinearModel>>& state) {
    if (!Claim()) return;
    Finish(ToGrpcStatus(state.ok()
                            ? PredictFromState(**state, *request_, response_)
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
    ToModelInfo(model->name, *model->learner.Current(), response->add_models());
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

grpc::ServerBidiReactor<v1::ObserveRequest, v1::ObserveAck>*
LearnerService::ObserveStream(grpc::CallbackServerContext*) {
  return new ObserveStreamReactor(registry_);
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
  if (!model.ok()) return FinishWith(context, model.status());
  std::shared_ptr<const LinearModel> state = (*model)->learner.Current();
  ToSnapshot((*model)->name, *state, response);
  absl::Status written;
  if (!request->to_file().empty()) {
    absl::StatusOr<std::string> path =
        store_ != nullptr
            ? store_->SnapshotPath(request->to_file())
            : absl::FailedPreconditionError("the server has no data directory");
    written = path.ok()
                  ? WriteFileAtomically(*path, EncodeSnapshotFile(*response))
                  : path.status();
  }
  return FinishWith(context, written);
}

grpc::ServerUnaryReactor* LearnerService::Restore(
    grpc::CallbackServerContext* context, const v1::RestoreRequest* request,
    v1::ModelInfo* response) {
  absl::StatusOr<LinearModel> state = FromSnapshot(request->snapshot());
  if (!state.ok()) {
    return FinishWith(context, absl::InvalidArgumentError(absl::StrCat(
                                   "snapshot: ", state.status().message())));
  }
  absl::StatusOr<std::shared_ptr<LiveModel>> model =
      registry_->Restore(request->model(), *state);
  if (model.ok()) {
    ToModelInfo((*model)->name, *(*model)->learner.Current(), response);
  }
  return FinishWith(context, model.status());
}

}  // namespace streamfit
