#include "core/learner.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/thread_name.h"

namespace streamfit {
namespace {

// How often the learner retries reopening a failed journal.
constexpr absl::Duration kReopenRetry = absl::Milliseconds(100);

}  // namespace

// The two events a producer's on_queued waits for: its on_admitted has run,
// and the batch's result is known (durable, refused or failed). Whichever
// comes second runs on_queued, outside any lock.
class Learner::Ack {
 public:
  explicit Ack(QueuedCallback on_queued) : on_queued_(std::move(on_queued)) {}

  void Complete(absl::StatusOr<uint64_t> result) {
    {
      absl::MutexLock lock(&mu_);
      result_ = std::move(result);
      if (!admitted_) return;
    }
    on_queued_(std::move(*result_));
  }
  void Admitted() {
    {
      absl::MutexLock lock(&mu_);
      admitted_ = true;
      if (!result_) return;
    }
    on_queued_(std::move(*result_));
  }

 private:
  absl::Mutex mu_;
  bool admitted_ ABSL_GUARDED_BY(mu_) = false;
  // Written under mu_ before the second event; read by it after.
  std::optional<absl::StatusOr<uint64_t>> result_;
  QueuedCallback on_queued_;
};

absl::Status Learner::StoppedError() {
  return absl::AbortedError("the model's learner has stopped");
}

Learner::Learner(LinearModel model, Options options, Journal* journal)
    : Learner(SlotState{std::move(model), {}}, options, journal) {}

Learner::Learner(SlotState slot, Options options, Journal* journal)
    : options_(options),
      journal_(journal),
      admission_config_(slot.champion.config()),
      slot_(std::move(slot)),
      published_(std::make_shared<const LinearModel>(slot_.model())),
      published_slot_(PublishedSlotOf(slot_, published_.load())),
      admission_checks_(slot_.ChecksAgainst(admission_config_)),
      admitted_version_(slot_.version()),
      published_version_(slot_.version()),
      durable_version_(slot_.version()),
      thread_([this] {
        NameThisThread("sf-learner");
        Run();
      }) {}

Learner::~Learner() { Stop(); }

bool Learner::HasRoom(const ExampleBatch& batch) const {
  return queue_.empty() ||
         (queued_samples_ + batch.size() <= options_.queue_capacity &&
          queued_bytes_ + batch.ByteSize() <= options_.queue_capacity_bytes);
}

void Learner::PushQueue(ExampleBatch batch) {
  queued_samples_ += batch.size();
  queued_bytes_ += batch.ByteSize();
  queue_.push_back(std::move(batch));
}

ExampleBatch Learner::PopQueueFront() {
  ExampleBatch batch = std::move(queue_.front());
  queue_.pop_front();
  queued_samples_ -= batch.size();
  queued_bytes_ -= batch.ByteSize();
  return batch;
}

void Learner::PopQueueBack() {
  queued_samples_ -= queue_.back().size();
  queued_bytes_ -= queue_.back().ByteSize();
  queue_.pop_back();
}

bool Learner::Drained() const {
  return stopping_ && pending_durability_ == 0 &&
         (queue_.empty() || !journal_error_.ok());
}

bool Learner::FrontIsDurable() const {
  if (queue_.empty()) return false;
  if (journal_ == nullptr) return true;
  const uint64_t front_start = admitted_version_ - queued_samples_;
  return front_start + queue_.front().size() <= durable_version_;
}

absl::StatusOr<uint64_t> Learner::Admit(uint64_t start_version,
                                        ExampleBatch batch,
                                        std::shared_ptr<Ack> ack) {
  for (const SlotCheck& check : admission_checks_) {
    if (absl::Status valid = ValidateBatch(batch, check.config); !valid.ok()) {
      absl::Status refused = absl::InvalidArgumentError(absl::StrCat(
          check.challenger.empty()
              ? std::string("the model's current config")
              : absl::StrCat("the model's challenger '", check.challenger, "'"),
          " cannot learn it: ", valid.message()));
      ack->Complete(refused);
      return refused;
    }
  }
  if (journal_ != nullptr) {
    absl::StatusOr<uint64_t> logged = journal_->Append(start_version, batch);
    if (!logged.ok()) {
      ack->Complete(logged.status());
      return logged.status();
    }
  }
  uint64_t end_version;
  const absl::Time admitted_at = absl::Now();
  {
    absl::MutexLock lock(&mu_);
    admitted_version_ += batch.size();
    PushQueue(std::move(batch));
    end_version = admitted_version_;
    // (An empty batch when caught up has nothing to publish.)
    if (end_version > published_version_) {
      unpublished_admissions_.emplace_back(end_version, admitted_at);
    }
    if (journal_ != nullptr) ++pending_durability_;
    work_.Signal();
  }
  if (journal_ == nullptr) {
    ack->Complete(end_version);
    return end_version;
  }
  // Registered under admission_mu_, so a reopen never overtakes it.
  journal_->WhenDurable(end_version, [this, ack = std::move(ack),
                                      end_version](absl::Status durable) {
    OnDurable(end_version, durable);  // the last use of `this`
    ack->Complete(durable.ok() ? absl::StatusOr<uint64_t>(end_version)
                               : absl::StatusOr<uint64_t>(durable));
  });
  return end_version;
}

void Learner::OnDurable(uint64_t end_version, const absl::Status& status) {
  absl::MutexLock lock(&mu_);
  --pending_durability_;
  if (status.ok()) {
    durable_version_ = std::max(durable_version_, end_version);
  } else if (journal_error_.ok()) {
    journal_error_ = status;
  }
  work_.Signal();
}

bool Learner::RecoverJournal() {
  {
    absl::MutexLock lock(&mu_);
    if (journal_error_.ok()) return false;
  }
  absl::StatusOr<uint64_t> reopened;
  {
    absl::MutexLock admission(&admission_mu_);
    {
      absl::MutexLock lock(&mu_);
      if (!undurable_dropped_) {
        // Every callback of a batch up to the durable end ran before the
        // first error: what lies past durable_version_ is never applied.
        while (!queue_.empty() && admitted_version_ > durable_version_ &&
               admitted_version_ - queue_.back().size() >= durable_version_) {
          admitted_version_ -= queue_.back().size();
          PopQueueBack();
        }
        while (!unpublished_admissions_.empty() &&
               unpublished_admissions_.back().first > admitted_version_) {
          unpublished_admissions_.pop_back();
        }
        undurable_dropped_ = true;
      }
    }
    reopened = journal_->Reopen();
    absl::MutexLock lock(&mu_);
    if (reopened.ok() && *reopened == admitted_version_) {
      journal_error_ = absl::OkStatus();
      undurable_dropped_ = false;
      return true;
    }
  }
  absl::MutexLock lock(&mu_);
  if (FrontIsDurable() || Drained()) {
    return false;  // apply what is durable; or leave, stopping
  }
  work_.WaitWithTimeout(&mu_, kReopenRetry);
  return true;
}

uint64_t Learner::AdmittedVersion() const {
  absl::MutexLock lock(&mu_);
  return admitted_version_;
}

size_t Learner::QueuedSamples() const {
  absl::MutexLock lock(&mu_);
  return queued_samples_;
}

absl::Duration Learner::PublishLag(absl::Time now) const {
  absl::MutexLock lock(&mu_);
  if (unpublished_admissions_.empty()) return absl::ZeroDuration();
  return std::max(now - unpublished_admissions_.front().second,
                  absl::ZeroDuration());
}

size_t Learner::QueuedBytes() const {
  absl::MutexLock lock(&mu_);
  return queued_bytes_;
}

void Learner::Submit(ExampleBatch batch, QueuedCallback on_queued,
                     AdmittedCallback on_admitted) {
  auto ack = std::make_shared<Ack>(std::move(on_queued));
  bool admitted = false;
  {
    absl::MutexLock admission(&admission_mu_);
    uint64_t start_version;
    bool stopping;
    {
      absl::MutexLock lock(&mu_);
      stopping = stopping_;
      if (!stopping && (!parked_.empty() || !HasRoom(batch))) {
        parked_.push_back({std::move(batch), ack, std::move(on_admitted)});
        return;
      }
      start_version = admitted_version_;
    }
    if (stopping) {
      ack->Complete(StoppedError());
    } else {
      admitted = Admit(start_version, std::move(batch), ack).ok();
    }
  }
  Deliver(ack, std::move(on_admitted), admitted);
}

void Learner::Deliver(const std::shared_ptr<Ack>& ack,
                      AdmittedCallback on_admitted, bool admitted) {
  if (admitted && on_admitted) on_admitted();
  ack->Admitted();
}

uint64_t Learner::WhenVersion(uint64_t version, StateCallback callback) {
  bool stopped;
  {
    absl::MutexLock lock(&mu_);
    stopped = stopping_ && version > admitted_version_;
    if (version > published_version_ && !stopped) {
      const uint64_t id = next_waiter_id_++;
      waiter_ids_.emplace(
          id, waiters_.emplace(version, std::pair(id, std::move(callback))));
      return id;
    }
  }
  if (stopped && version > Current()->version()) {
    callback(StoppedError());
  } else {
    // Published states only move forward, so the current one qualifies.
    callback(Current());
  }
  return 0;
}

bool Learner::CancelWait(uint64_t id) {
  StateCallback dropped;  // destroyed outside the lock
  absl::MutexLock lock(&mu_);
  auto it = waiter_ids_.find(id);
  if (it == waiter_ids_.end()) return false;
  dropped = std::move(it->second->second.second);
  waiters_.erase(it->second);
  waiter_ids_.erase(it);
  return true;
}

size_t Learner::WaiterCount() const {
  absl::MutexLock lock(&mu_);
  return waiters_.size();
}

std::vector<Learner::StateCallback> Learner::Publish() {
  auto state = std::make_shared<const LinearModel>(slot_.model());
  // The slot first: a reader of CurrentSlot() gets its champion with it.
  if (slot_.has_challengers() || !slot_.dropped().empty() ||
      published_slot_.load(std::memory_order_relaxed) != nullptr) {
    published_slot_.store(PublishedSlotOf(slot_, state),
                          std::memory_order_release);
  }
  published_.store(state, std::memory_order_release);
  unpublished_ = 0;
  if (options_.publish_interval > absl::ZeroDuration()) {
    last_publish_ = absl::Now();
  }
  std::vector<StateCallback> ready;
  absl::MutexLock lock(&mu_);
  published_version_ = slot_.version();
  while (!unpublished_admissions_.empty() &&
         unpublished_admissions_.front().first <= published_version_) {
    unpublished_admissions_.pop_front();
  }
  auto end = waiters_.upper_bound(published_version_);
  for (auto it = waiters_.begin(); it != end; ++it) {
    waiter_ids_.erase(it->second.first);
    ready.push_back(std::move(it->second.second));
  }
  waiters_.erase(waiters_.begin(), end);
  return ready;
}

bool Learner::PublishIsDue() const {
  return options_.publish_interval > absl::ZeroDuration() &&
         absl::Now() - last_publish_ >= options_.publish_interval;
}

void Learner::Run() {
  for (;;) {
    RunPendingAdoption();
    RunPendingTasks();
    if (journal_ != nullptr && RecoverJournal()) continue;
    ExampleBatch batch;
    uint64_t record = 0;  // the recording generation, if any
    bool parked;
    {
      absl::MutexLock lock(&mu_);
      // A batch is applied once durable.
      while (!FrontIsDurable() && !Drained() && !adoption_ && tasks_.empty() &&
             journal_error_.ok()) {
        work_.Wait(&mu_);
      }
      if (adoption_ || !tasks_.empty()) continue;  // at the loop's top
      if (!FrontIsDurable()) {
        if (Drained()) return;
        continue;  // a journal failure: RecoverJournal
      }
      if (recording_) {
        record = recording_->generation;
        // slot_ is at the cutoff: every batch popped before is applied.
        if (!recording_->hashed_at_cutoff) {
          recording_->hashed_at_cutoff = slot_.model().HasHashedState();
        }
      }
      batch = PopQueueFront();
      parked = !parked_.empty();
    }
    if (parked) AdmitParked();

    // Learns in runs that end where a publish may be due: after
    // publish_every samples, and every 64 while the interval runs.
    std::vector<StateCallback> ready;
    std::vector<Promotion> promotions;
    for (size_t i = 0; i < batch.size();) {
      const uint64_t run = std::max<uint64_t>(
          1, std::min<uint64_t>({batch.size() - i,
                                 options_.publish_every - unpublished_,
                                 64 - unpublished_ % 64}));
      const size_t promoted = promotions.size();
      slot_.LearnBatch(batch, i, i + run, &promotions);
      i += run;
      unpublished_ += run;
      // A promotion is published at once: the new champion serves.
      if (promotions.size() > promoted ||
          unpublished_ >= options_.publish_every ||
          (unpublished_ % 64 == 0 && PublishIsDue())) {
        for (auto& cb : Publish()) ready.push_back(std::move(cb));
      }
    }
    if (record != 0) Record(std::move(batch), record);
    bool idle;
    {
      absl::MutexLock lock(&mu_);
      idle = queue_.empty();
    }
    if (unpublished_ > 0 &&
        (idle || unpublished_ >= options_.publish_every || PublishIsDue())) {
      for (auto& cb : Publish()) ready.push_back(std::move(cb));
    }
    for (auto& cb : ready) cb(Current());
    RefreshAdmissionChecks();
    if (!promotions.empty()) KeepPromotions(std::move(promotions));
  }
}

void Learner::AdmitParked() {
  std::vector<std::pair<Parked, bool>> admitted;  // and whether admitted
  {
    absl::MutexLock admission(&admission_mu_);
    for (;;) {
      uint64_t start_version;
      {
        // Unless stopping: Stop() refuses them.
        absl::MutexLock lock(&mu_);
        if (stopping_ || parked_.empty() || !HasRoom(parked_.front().batch)) {
          break;
        }
        admitted.emplace_back(std::move(parked_.front()), false);
        parked_.pop_front();
        start_version = admitted_version_;
      }
      auto& [p, ok] = admitted.back();
      ok = Admit(start_version, std::move(p.batch), p.ack).ok();
    }
  }
  for (auto& [p, ok] : admitted) Deliver(p.ack, std::move(p.on_admitted), ok);
}

void Learner::Stop() {
  {
    // No admission is half done once stopping_ is set.
    absl::MutexLock admission(&admission_mu_);
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
    work_.Signal();
  }
  thread_.join();
  std::deque<Parked> parked;
  Waiters waiters;
  std::optional<Adoption> adoption;
  std::deque<Task> tasks;
  {
    absl::MutexLock lock(&mu_);
    tasks.swap(tasks_);
    parked.swap(parked_);
    waiters.swap(waiters_);
    waiter_ids_.clear();
    adoption.swap(adoption_);
    recording_.reset();
  }
  if (adoption) adoption->on_done(StoppedError());
  for (Task& task : tasks) task(/*run=*/false);
  for (auto& p : parked) {
    p.ack->Complete(StoppedError());
    Deliver(p.ack, std::move(p.on_admitted), /*admitted=*/false);
  }
  for (auto& [v, waiter] : waiters) waiter.second(StoppedError());
}

}  // namespace streamfit
