// Learner methods that manage the slot's challengers, and the queue of
// tasks they run on the learner thread.
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/learner.h"

namespace streamfit {
void Learner::RunOnLearnerThread(Task task) {
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      tasks_.push_back(std::move(task));
      work_.Signal();
      return;
    }
  }
  task(/*run=*/false);
}

void Learner::RunPendingTasks() {
  std::deque<Task> tasks;
  {
    absl::MutexLock lock(&mu_);
    tasks.swap(tasks_);
  }
  for (Task& task : tasks) task(/*run=*/true);
}

void Learner::PublishNow() {
  for (auto& cb : Publish()) cb(Current());
}

std::shared_ptr<const PublishedSlot> Learner::PublishedSlotOf(
    const ModelSlot& slot, std::shared_ptr<const LinearModel> champion) {
  if (!slot.has_challengers() && slot.dropped().empty()) return nullptr;
  auto view = std::make_shared<PublishedSlot>();
  view->champion = std::move(champion);
  view->challengers = slot.ChallengerStates();
  view->dropped = slot.dropped();
  return view;
}

void Learner::RefreshAdmissionChecks() {
  if (slot_.membership_changes() == checked_membership_) return;
  checked_membership_ = slot_.membership_changes();
  absl::MutexLock admission(&admission_mu_);
  admission_checks_ = slot_.ChecksAgainst(admission_config_);
}

void Learner::AddChallenger(std::string name, ModelConfig config,
                            AdoptCallback on_done) {
  RunOnLearnerThread([this, name = std::move(name), config = std::move(config),
                      on_done = std::move(on_done)](bool run) mutable {
    if (!run) return on_done(StoppedError());
    on_done(AdmitChallenger(name,
                            [&] { return slot_.AddChallenger(name, config); }));
  });
}

void Learner::JoinChallenger(ModelSlot caught_up, std::string name,
                             SlotCatchUp catch_up, AdoptCallback on_done) {
  RunOnLearnerThread([this, caught_up = std::move(caught_up),
                      name = std::move(name), catch_up = std::move(catch_up),
                      on_done = std::move(on_done)](bool run) mutable {
    if (!run) return on_done(StoppedError());
    if (caught_up.version() > slot_.version()) {
      return on_done(absl::FailedPreconditionError(
          absl::StrCat("the challenger is at version ", caught_up.version(),
                       ", after the model's version ", slot_.version())));
    }
    if (absl::Status s = catch_up(caught_up, slot_.version()); !s.ok()) {
      return on_done(std::move(s));
    }
    on_done(AdmitChallenger(
        name, [&] { return slot_.TakeChallenger(caught_up, name); }));
  });
}

absl::StatusOr<uint64_t> Learner::AdmitChallenger(
    const std::string& name, absl::FunctionRef<absl::Status()> add) {
  absl::Status added;
  {
    // No batch is admitted meanwhile: the queued ones are all there are.
    absl::MutexLock admission(&admission_mu_);
    added = add();
    if (added.ok()) {
      added = CheckQueuedFor(name);
      if (!added.ok()) slot_.RemoveChallenger(name).IgnoreError();
    }
    checked_membership_ = slot_.membership_changes();
    admission_checks_ = slot_.ChecksAgainst(admission_config_);
  }
  if (!added.ok()) return added;
  PublishNow();
  return slot_.version();
}

absl::Status Learner::CheckQueuedFor(const std::string& name) {
  for (const SlotCheck& check : slot_.ChecksAgainst(admission_config_)) {
    if (check.challenger != name) continue;
    absl::MutexLock lock(&mu_);
    for (const ExampleBatch& batch : queue_) {
      if (absl::Status valid = ValidateBatch(batch, check.config);
          !valid.ok()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "samples already queued for the model are ones the challenger "
            "cannot learn (",
            valid.message(), "); retry once they are learned"));
      }
    }
  }
  return absl::OkStatus();
}

void Learner::RemoveChallenger(std::string name, AdoptCallback on_done) {
  RunOnLearnerThread([this, name = std::move(name),
                      on_done = std::move(on_done)](bool run) mutable {
    if (!run) return on_done(StoppedError());
    if (absl::Status removed = slot_.RemoveChallenger(name); !removed.ok()) {
      return on_done(std::move(removed));
    }
    RefreshAdmissionChecks();
    PublishNow();
    on_done(slot_.version());
  });
}

void Learner::PromoteChallenger(std::string name, PromotionCallback on_done) {
  RunOnLearnerThread([this, name = std::move(name),
                      on_done = std::move(on_done)](bool run) mutable {
    if (!run) return on_done(StoppedError());
    absl::StatusOr<Promotion> promotion = slot_.Promote(name);
    if (promotion.ok()) {
      RefreshAdmissionChecks();
      PublishNow();
    }
    on_done(std::move(promotion));
  });
}

void Learner::KeepPromotions(std::vector<Promotion> promotions) {
  constexpr size_t kKept = 16;
  absl::MutexLock lock(&mu_);
  for (Promotion& p : promotions) promotions_.push_back(std::move(p));
  if (promotions_.size() > kKept) {
    promotions_.erase(promotions_.begin(), promotions_.end() - kKept);
  }
}

std::vector<Promotion> Learner::TakePromotions() {
  absl::MutexLock lock(&mu_);
  return std::exchange(promotions_, {});
}

}  // namespace streamfit
