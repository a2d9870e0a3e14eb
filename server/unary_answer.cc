#include "server/unary_answer.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "server/proto_convert.h"
#include "server/reactor_handoff.h"

namespace streamfit {
namespace {

// A call waiting for a version. Finishes exactly once: from the learner's
// version callback or from OnCancel (deadline or client cancel), whichever
// comes first. Kept alive by shared_ptr so a late learner callback never
// touches a deleted reactor.
class VersionWaitReactor final
    : public HandedOffReactor<grpc::ServerUnaryReactor>,
      public std::enable_shared_from_this<VersionWaitReactor> {
 public:
  static grpc::ServerUnaryReactor* Start(std::shared_ptr<LiveModel> model,
                                         uint64_t version,
                                         std::string version_field,
                                         StateAnswer answer,
                                         ErrorObserver on_error) {
    auto reactor = std::shared_ptr<VersionWaitReactor>(new VersionWaitReactor(
        std::move(model), version, std::move(version_field), std::move(answer),
        std::move(on_error)));
    reactor->self_ = reactor;
    const uint64_t waiter = reactor->model_->learner.WhenVersion(
        version, [weak = std::weak_ptr<VersionWaitReactor>(reactor)](
                     absl::StatusOr<std::shared_ptr<const LinearModel>> state) {
          if (auto r = weak.lock()) r->Answer(state);
        });
    {
      absl::MutexLock lock(&reactor->mu_);
      reactor->waiter_ = waiter;
    }
    reactor->HandOff();
    return reactor.get();
  }

  // The deadline passed or the client gave up: the waiter is dropped.
  void OnCancel() override {
    Reacting();
    auto keep_alive = shared_from_this();
    if (!Claim()) return;
    uint64_t waiter;
    {
      absl::MutexLock lock(&mu_);
      waiter = waiter_;
    }
    model_->learner.CancelWait(waiter);
    End(absl::DeadlineExceededError(absl::StrCat(
        "model '", model_->name, "' did not reach ", version_field_, " ",
        version_, " in time (it is at version ",
        model_->learner.Current()->version(), ")")));
  }
  void OnDone() override {
    Reacting();
    self_.reset();
  }

 private:
  VersionWaitReactor(std::shared_ptr<LiveModel> model, uint64_t version,
                     std::string version_field, StateAnswer answer,
                     ErrorObserver on_error)
      : model_(std::move(model)),
        version_(version),
        version_field_(std::move(version_field)),
        answer_(std::move(answer)),
        on_error_(std::move(on_error)) {}

  void Answer(const absl::StatusOr<std::shared_ptr<const LinearModel>>& state) {
    if (!Claim()) return;
    End(state.ok() ? answer_(**state) : state.status());
  }

  // True for the first of the two finishers only.
  bool Claim() {
    absl::MutexLock lock(&mu_);
    if (finished_) return false;
    finished_ = true;
    return true;
  }

  // Called by the one finisher.
  void End(const absl::Status& status) {
    if (!status.ok() && on_error_) on_error_(status);
    Finish(ToGrpcStatus(status));
  }

  const std::shared_ptr<LiveModel> model_;
  const uint64_t version_;
  const std::string version_field_;
  StateAnswer answer_;      // run by the one finisher only
  ErrorObserver on_error_;  // run by the one finisher only
  absl::Mutex mu_;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t waiter_ ABSL_GUARDED_BY(mu_) = 0;  // for CancelWait
  std::shared_ptr<VersionWaitReactor> self_;  // released in OnDone
};

}  // namespace

grpc::ServerUnaryReactor* FinishWith(grpc::CallbackServerContext* context,
                                     const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

grpc::ServerUnaryReactor* AnswerAtVersion(grpc::CallbackServerContext* context,
                                          std::shared_ptr<LiveModel> model,
                                          uint64_t version,
                                          std::string version_field,
                                          StateAnswer answer,
                                          ErrorObserver on_error) {
  std::shared_ptr<const LinearModel> state = model->learner.Current();
  if (state->version() < version) {
    return VersionWaitReactor::Start(std::move(model), version,
                                     std::move(version_field),
                                     std::move(answer), std::move(on_error));
  }
  const absl::Status status = answer(*state);
  if (!status.ok() && on_error) on_error(status);
  return FinishWith(context, status);
}

}  // namespace streamfit
