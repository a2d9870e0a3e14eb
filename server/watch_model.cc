// The WatchModel RPC of LearnerService. A watch follows the model's learner
// (each newly published state tells whether the drift detector fired; the
// learner stopping tells of a Restore or a deletion) and the server's
// ModelEvents (retrain jobs), and writes the events in order, one at a time.
#include <deque>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "server/learner_service.h"
#include "server/proto_convert.h"

namespace streamfit {
namespace {

v1::ModelEvent Event(v1::ModelEvent::Kind kind, const std::string& model,
                     uint64_t version) {
  v1::ModelEvent event;
  event.set_kind(kind);
  event.set_model(model);
  event.set_model_version(version);
  event.set_unix_ms(absl::ToUnixMillis(absl::Now()));
  return event;
}

// Owns itself from Start to OnDone; callbacks hold it weakly.
class ModelWatch final : public grpc::ServerWriteReactor<v1::ModelEvent>,
                         public std::enable_shared_from_this<ModelWatch> {
 public:
  static grpc::ServerWriteReactor<v1::ModelEvent>* Start(
      ModelRegistry* registry, ModelEvents* events,
      std::shared_ptr<LiveModel> model) {
    auto watch =
        std::shared_ptr<ModelWatch>(new ModelWatch(registry, events, model));
    watch->self_ = watch;
    const uint64_t token = events->Subscribe(
        model->name,
        [weak = std::weak_ptr<ModelWatch>(watch)](const v1::ModelEvent& event) {
          if (auto w = weak.lock()) w->Send(event);
        });
    {
      absl::MutexLock lock(&watch->mu_);
      watch->token_ = token;
    }
    const std::shared_ptr<const LinearModel> state = model->learner.Current();
    watch->Follow(std::move(model), state->version(),
                  state->metrics().drifts_detected);
    // Tells the client the watch is in place: events from now on reach it.
    watch->StartSendInitialMetadata();
    return watch.get();
  }

  void OnWriteDone(bool ok) override {
    Action action;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (ok) {
        written_.pop_front();
      } else {
        end_ = grpc::Status(grpc::StatusCode::CANCELLED, "the watcher left");
        written_.clear();
      }
      action = Next();
    }
    Act(action);
  }
  void OnCancel() override {
    Action action;
    {
      absl::MutexLock lock(&mu_);
      queue_.clear();
      end_ = grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
      action = Next();
    }
    Act(action);
  }
  void OnDone() override {
    uint64_t token, wait;
    std::shared_ptr<LiveModel> followed;
    {
      absl::MutexLock lock(&mu_);
      token = token_;
      wait = wait_;
      followed = std::move(followed_);
    }
    events_->Unsubscribe(token);
    if (followed != nullptr && wait != 0) followed->learner.CancelWait(wait);
    self_.reset();
  }

 private:
  // What to start once the lock is released (gRPC may run a reaction
  // inline, which takes the lock again).
  struct Action {
    const v1::ModelEvent* write = nullptr;
    std::optional<grpc::Status> finish;
  };

  ModelWatch(ModelRegistry* registry, ModelEvents* events,
             std::shared_ptr<LiveModel> model)
      : registry_(registry), events_(events), name_(model->name) {}

  // Waits for the next state `model` publishes after `version`; `drifts`:
  // the detector's count already reported.
  void Follow(std::shared_ptr<LiveModel> model, uint64_t version,
              uint64_t drifts) {
    const uint64_t wait = model->learner.WhenVersion(
        version + 1,
        [weak = weak_from_this(), model,
         drifts](absl::StatusOr<std::shared_ptr<const LinearModel>> state) {
          if (auto w = weak.lock())
            w->Published(model, std::move(state), drifts);
        });
    absl::MutexLock lock(&mu_);
    if (wait != 0) {
      followed_ = std::move(model);
      wait_ = wait;
    }
  }

  void Published(std::shared_ptr<LiveModel> model,
                 absl::StatusOr<std::shared_ptr<const LinearModel>> state,
                 uint64_t reported) {
    if (!state.ok()) return Replaced(*model);
    const MetricsSummary metrics = (*state)->metrics();
    // The count restarts with a retrain's swap.
    if (metrics.drifts_detected < reported) reported = 0;
    if (metrics.drifts_detected > reported) {
      v1::ModelEvent event = Event(v1::ModelEvent::DRIFT_DETECTED, name_,
                                   metrics.last_drift_version);
      event.set_drifts(metrics.drifts_detected - reported);
      Send(event);
    }
    Follow(std::move(model), (*state)->version(), metrics.drifts_detected);
  }

  // The learner of `old` stopped: the model was restored, deleted, or the
  // server is stopping.
  void Replaced(const LiveModel& old) {
    absl::StatusOr<std::shared_ptr<LiveModel>> now = registry_->Get(name_);
    if (now.ok() && now->get() == &old) {
      return End(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                              "the server is stopping"));
    }
    const Lineage lineage = now.ok() ? (*now)->GetLineage() : Lineage();
    if (lineage.empty() || lineage.back().event() != v1::LINEAGE_RESTORED) {
      return End(grpc::Status(grpc::StatusCode::NOT_FOUND,
                              absl::StrCat("model '", name_, "' was deleted")));
    }
    const std::shared_ptr<const LinearModel> state = (*now)->learner.Current();
    Send(
        Event(v1::ModelEvent::RESTORED, name_, lineage.back().model_version()));
    Follow(*std::move(now), state->version(), state->metrics().drifts_detected);
  }

  void Send(const v1::ModelEvent& event) {
    Action action;
    {
      absl::MutexLock lock(&mu_);
      if (end_) return;
      queue_.push_back(event);
      action = Next();
    }
    Act(action);
  }

  // Ends the stream once the events before are written.
  void End(grpc::Status status) {
    Action action;
    {
      absl::MutexLock lock(&mu_);
      if (!end_) end_ = std::move(status);
      action = Next();
    }
    Act(action);
  }

  Action Next() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || writing_) return {};
    if (!queue_.empty()) {
      writing_ = true;
      written_.push_back(std::move(queue_.front()));
      queue_.pop_front();
      return {&written_.back(), std::nullopt};
    }
    if (end_) {
      finished_ = true;
      return {nullptr, *end_};
    }
    return {};
  }

  void Act(const Action& action) {
    if (action.write != nullptr) StartWrite(action.write);
    if (action.finish) Finish(*action.finish);
  }

  ModelRegistry* const registry_;
  ModelEvents* const events_;
  const std::string name_;
  std::shared_ptr<ModelWatch> self_;  // until OnDone

  absl::Mutex mu_;
  uint64_t token_ ABSL_GUARDED_BY(mu_) = 0;
  std::shared_ptr<LiveModel> followed_ ABSL_GUARDED_BY(mu_);
  uint64_t wait_ ABSL_GUARDED_BY(mu_) = 0;  // its WhenVersion waiter
  std::deque<v1::ModelEvent> queue_ ABSL_GUARDED_BY(mu_);
  // The event being written (kept alive until its write is done).
  std::deque<v1::ModelEvent> written_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> end_ ABSL_GUARDED_BY(mu_);
};

class FailedWatch final : public grpc::ServerWriteReactor<v1::ModelEvent> {
 public:
  explicit FailedWatch(const absl::Status& status) {
    Finish(ToGrpcStatus(status));
  }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerWriteReactor<v1::ModelEvent>* LearnerService::WatchModel(
    grpc::CallbackServerContext*, const v1::WatchModelRequest* request) {
  absl::StatusOr<std::shared_ptr<LiveModel>> model =
      registry_->Get(request->model());
  if (!model.ok()) return new FailedWatch(model.status());
  return ModelWatch::Start(registry_, &events_, *std::move(model));
}

}  // namespace streamfit
