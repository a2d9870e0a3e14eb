// The RPCs of LearnerService that manage a model's challengers. Changes
// run on the learner thread (Learner::AddChallenger and the like); a worker
// waits for them and checkpoints the result before answering, so an OK
// answer is durable.
#include <future>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "server/learner_service.h"
#include "server/model_store.h"
#include "server/names.h"
#include "server/proto_convert.h"
#include "server/snapshot_codec.h"
#include "server/unary_answer.h"

namespace streamfit {
namespace {

// Waits for a learner callback's result.
template <class T>
struct Waited {
  std::promise<T> promise;
  auto Callback() {
    return [this](T result) { promise.set_value(std::move(result)); };
  }
  T Get() { return promise.get_future().get(); }
};

}  // namespace

absl::StatusOr<std::shared_ptr<LiveModel>> LearnerService::ModelForChallengers(
    const std::string& name) const {
  if (kafka_ != nullptr) {
    return absl::FailedPreconditionError(
        "challengers are not supported in Kafka mode: every replica learns "
        "from the model's topic alone");
  }
  ASSIGN_OR_RETURN(std::shared_ptr<LiveModel> model, registry_->Get(name));
  RETURN_IF_ERROR(model->CheckNotFailed());
  return model;
}

grpc::ServerUnaryReactor* LearnerService::AddChallenger(
    grpc::CallbackServerContext* context,
    const v1::AddChallengerRequest* request, v1::Challenger* response) {
  auto add = [this, request, response] {
    return AddChallengerTo(*request, response);
  };
  // Starting from an earlier version rebuilds it and reads the log since:
  // history work, which leaves the file worker free.
  return request->has_from_version() ? OnHistoryWorker(context, std::move(add))
                                     : OnFileWorker(context, std::move(add));
}

absl::StatusOr<ModelSlot> LearnerService::CatchUpChallenger(
    LiveModel& model, const std::string& name, const ModelConfig& config,
    uint64_t from_version) {
  if (store_ == nullptr) return NoDataDirectory();
  const uint64_t live = model.learner.Current()->version();
  if (from_version > live) {
    return absl::OutOfRangeError(absl::StrCat(
        "from_version ", from_version, " is after the model's version ", live));
  }
  ASSIGN_OR_RETURN(LinearModel past, store_->PastState(model, from_version));
  ModelSlot slot(std::move(past));
  slot.DisableAutomaticPromotion();  // the live slot decides
  RETURN_IF_ERROR(slot.AddChallenger(name, config));
  // Each round replays the log up to the model's version then, so the next
  // one has only what arrived meanwhile; the learner thread replays the last
  // kTail samples or fewer.
  constexpr uint64_t kTail = 1 << 14;
  constexpr int kMaxRounds = 16;
  for (int round = 0; round < kMaxRounds; ++round) {
    const uint64_t to = model.learner.Current()->version();
    if (to - slot.version() <= kTail) break;
    RETURN_IF_ERROR(store_->ReplayInto(model, slot, to));
    RETURN_IF_ERROR(slot.Holds(name));
  }
  return slot;
}

absl::Status LearnerService::AddChallengerTo(
    const v1::AddChallengerRequest& request, v1::Challenger* response) {
  ASSIGN_OR_RETURN(const std::shared_ptr<LiveModel> model,
                   ModelForChallengers(request.model()));
  RETURN_IF_ERROR(ValidateName("challenger name", request.name()));
  absl::StatusOr<ModelConfig> config =
      WithDefaults(FromProto(request.config()));
  if (!config.ok()) return config.status();
  RETURN_IF_ERROR(registry_->CheckModelSize(*config));
  // Every checkpoint holds the model and its challengers in one message.
  uint64_t checkpoint_bytes =
      SnapshotBytesBound(*config) +
      SnapshotBytesBound(model->learner.Current()->config());
  if (const auto slot = model->learner.CurrentSlot()) {
    for (const ChallengerState& c : slot->challengers) {
      checkpoint_bytes += SnapshotBytesBound(c.model.config());
    }
  }
  if (checkpoint_bytes > kMaxSnapshotBytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the model's checkpoint with this challenger could reach ",
        checkpoint_bytes, " bytes, over the limit of ", kMaxSnapshotBytes));
  }
  Waited<absl::StatusOr<uint64_t>> added;
  if (request.has_from_version()) {
    ASSIGN_OR_RETURN(ModelSlot caught_up,
                     CatchUpChallenger(*model, request.name(), *config,
                                       request.from_version()));
    model->learner.JoinChallenger(
        std::move(caught_up), request.name(),
        [this, live = model.get()](ModelSlot& slot, uint64_t to_version) {
          return store_->ReplayInto(*live, slot, to_version);
        },
        added.Callback());
  } else {
    model->learner.AddChallenger(request.name(), *config, added.Callback());
  }
  RETURN_IF_ERROR(added.Get().status());
  if (store_ != nullptr) {
    if (absl::Status s = store_->Checkpoint(*model, ModelStore::When::kAlways);
        !s.ok()) {
      // Not durable: take it back, so that the error means "not added".
      Waited<absl::StatusOr<uint64_t>> removed;
      model->learner.RemoveChallenger(request.name(), removed.Callback());
      removed.Get().IgnoreError();
      return s;
    }
  }
  v1::ListChallengersResponse listed;
  if (const auto slot = model->learner.CurrentSlot()) {
    ToProto(*slot, listed.mutable_challengers(), listed.mutable_dropped());
  }
  for (v1::Challenger& c : *listed.mutable_challengers()) {
    if (c.name() == request.name()) {
      *response = std::move(c);
      return absl::OkStatus();
    }
  }
  // Dropped at once: its config refused a sample learned since.
  return absl::FailedPreconditionError(
      absl::StrCat("challenger '", request.name(),
                   "' left at once: see ListChallengers.dropped"));
}

grpc::ServerUnaryReactor* LearnerService::ListChallengers(
    grpc::CallbackServerContext* context,
    const v1::ListChallengersRequest* request,
    v1::ListChallengersResponse* response) {
  absl::StatusOr<std::shared_ptr<LiveModel>> model =
      registry_->Get(request->model());
  if (model.ok()) {
    if (const auto slot = (*model)->learner.CurrentSlot()) {
      ToProto(*slot, response->mutable_challengers(),
              response->mutable_dropped());
    }
  }
  return FinishWith(context, model.status());
}

grpc::ServerUnaryReactor* LearnerService::PromoteChallenger(
    grpc::CallbackServerContext* context,
    const v1::PromoteChallengerRequest* request, v1::ModelInfo* response) {
  return OnFileWorker(context, [this, request, response] {
    return Promote(*request, response);
  });
}

absl::Status LearnerService::Promote(
    const v1::PromoteChallengerRequest& request, v1::ModelInfo* response) {
  ASSIGN_OR_RETURN(const std::shared_ptr<LiveModel> model,
                   ModelForChallengers(request.model()));
  Waited<absl::StatusOr<Promotion>> promoted;
  model->learner.PromoteChallenger(request.name(), promoted.Callback());
  ASSIGN_OR_RETURN(const Promotion promotion, promoted.Get());
  RETURN_IF_ERROR(RecordPromotion(*model, promotion));
  DescribeModel(*model, response);
  return absl::OkStatus();
}

absl::Status LearnerService::RecordPromotion(LiveModel& model,
                                             const Promotion& promotion) {
  if (absl::Status s = registry_->RecordPromotion(model, promotion); !s.ok()) {
    return absl::Status(
        s.code(), absl::StrCat("promoted, but its checkpoint failed (a "
                               "restart would bring back the old model): ",
                               s.message()));
  }
  v1::ModelEvent event;
  event.set_kind(v1::ModelEvent::CHALLENGER_PROMOTED);
  event.set_model(model.name);
  event.set_model_version(promotion.version);
  event.set_unix_ms(absl::ToUnixMillis(absl::Now()));
  event.set_challenger(promotion.name);
  event.set_automatic(promotion.automatic);
  events_.Publish(event);
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* LearnerService::RemoveChallenger(
    grpc::CallbackServerContext* context,
    const v1::RemoveChallengerRequest* request, v1::RemoveChallengerResponse*) {
  return OnFileWorker(
      context, [this, request] { return RemoveChallengerFrom(*request); });
}

absl::Status LearnerService::RemoveChallengerFrom(
    const v1::RemoveChallengerRequest& request) {
  ASSIGN_OR_RETURN(const std::shared_ptr<LiveModel> model,
                   ModelForChallengers(request.model()));
  Waited<absl::StatusOr<uint64_t>> removed;
  model->learner.RemoveChallenger(request.name(), removed.Callback());
  RETURN_IF_ERROR(removed.Get().status());
  if (store_ == nullptr) return absl::OkStatus();
  return store_->Checkpoint(*model, ModelStore::When::kAlways);
}

}  // namespace streamfit
