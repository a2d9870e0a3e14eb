#include "core/learner.h"

#include <utility>

#include "absl/status/status.h"
#include "core/thread_name.h"

namespace streamfit {
namespace {

absl::Status StoppedError() {
  return absl::AbortedError("the model's learner has stopped");
}

}  // namespace

Learner::Learner(LinearModel model, Options options, Journal* journal)
    : options_(options),
      journal_(journal),
      model_(std::move(model)),
      published_(std::make_shared<const LinearModel>(model_)),
      admitted_version_(model_.version()),
      published_version_(model_.version()),
      thread_([this] {
        NameThisThread("sf-learner");
        Run();
      }) {}

Learner::~Learner() { Stop(); }

bool Learner::HasRoom(size_t samples) const {
  return queue_.empty() || queued_samples_ + samples <= options_.queue_capacity;
}

absl::StatusOr<uint64_t> Learner::Admit(uint64_t start_version,
                                        ExampleBatch batch) {
  if (journal_ != nullptr) {
    absl::StatusOr<uint64_t> logged = journal_->Append(start_version, batch);
    if (!logged.ok()) return logged.status();
  }
  absl::MutexLock lock(&mu_);
  admitted_version_ += batch.size();
  queued_samples_ += batch.size();
  queue_.push_back(std::move(batch));
  work_.Signal();
  return admitted_version_;
}

uint64_t Learner::AdmittedVersion() const {
  absl::MutexLock lock(&mu_);
  return admitted_version_;
}

void Learner::Submit(ExampleBatch batch, QueuedCallback on_queued,
                     AdmittedCallback on_admitted) {
  absl::StatusOr<uint64_t> end_version;
  {
    absl::MutexLock admission(&admission_mu_);
    uint64_t start_version;
    bool stopping;
    {
      absl::MutexLock lock(&mu_);
      stopping = stopping_;
      if (!stopping && (!parked_.empty() || !HasRoom(batch.size()))) {
        parked_.push_back(
            {std::move(batch), std::move(on_queued), std::move(on_admitted)});
        return;
      }
      start_version = admitted_version_;
    }
    end_version = stopping ? absl::StatusOr<uint64_t>(StoppedError())
                           : Admit(start_version, std::move(batch));
  }
  Deliver(std::move(on_queued), std::move(on_admitted), std::move(end_version));
}

void Learner::Deliver(QueuedCallback on_queued, AdmittedCallback on_admitted,
                      absl::StatusOr<uint64_t> end_version) {
  if (!end_version.ok()) {  // refused: the producer must not send on
    on_queued(std::move(end_version));
    return;
  }
  if (on_admitted) on_admitted();
  if (journal_ == nullptr) {
    on_queued(std::move(end_version));
    return;
  }
  journal_->WhenDurable(
      *end_version, [on_queued = std::move(on_queued),
                     v = *end_version](absl::Status durable) mutable {
        on_queued(durable.ok() ? absl::StatusOr<uint64_t>(v)
                               : absl::StatusOr<uint64_t>(durable));
      });
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
  auto state = std::make_shared<const LinearModel>(model_);
  published_.store(state, std::memory_order_release);
  unpublished_ = 0;
  if (options_.publish_interval > absl::ZeroDuration()) {
    last_publish_ = absl::Now();
  }
  std::vector<StateCallback> ready;
  absl::MutexLock lock(&mu_);
  published_version_ = model_.version();
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
    ExampleBatch batch;
    uint64_t record = 0;  // the recording generation, if any
    bool parked;
    {
      absl::MutexLock lock(&mu_);
      while (queue_.empty() && !stopping_ && !adoption_) work_.Wait(&mu_);
      if (adoption_) continue;     // handled at the top of the loop
      if (queue_.empty()) return;  // stopping and drained
      if (recording_) {
        record = recording_->generation;
        // model_ is at the cutoff: every batch popped before is applied.
        if (!recording_->hashed_at_cutoff) {
          recording_->hashed_at_cutoff = model_.HasHashedState();
        }
      }
      batch = std::move(queue_.front());
      queue_.pop_front();
      queued_samples_ -= batch.size();
      parked = !parked_.empty();
    }
    if (parked) AdmitParked();

    std::vector<StateCallback> ready;
    for (size_t i = 0; i < batch.size(); ++i) {
      model_.Learn(batch.view(i), batch.labels[i], batch.weights[i]);
      if (++unpublished_ >= options_.publish_every ||
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
  }
}

void Learner::AdmitParked() {
  std::vector<std::pair<Parked, absl::StatusOr<uint64_t>>> admitted;
  {
    absl::MutexLock admission(&admission_mu_);
    for (;;) {
      uint64_t start_version;
      {
        // Unless stopping: Stop() refuses them.
        absl::MutexLock lock(&mu_);
        if (stopping_ || parked_.empty() ||
            !HasRoom(parked_.front().batch.size())) {
          break;
        }
        admitted.emplace_back(std::move(parked_.front()),
                              absl::StatusOr<uint64_t>());
        parked_.pop_front();
        start_version = admitted_version_;
      }
      auto& [p, end_version] = admitted.back();
      end_version = Admit(start_version, std::move(p.batch));
    }
  }
  for (auto& [p, end_version] : admitted) {
    Deliver(std::move(p.on_queued), std::move(p.on_admitted),
            std::move(end_version));
  }
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
  {
    absl::MutexLock lock(&mu_);
    parked.swap(parked_);
    waiters.swap(waiters_);
    waiter_ids_.clear();
    adoption.swap(adoption_);
    recording_.reset();
  }
  if (adoption) adoption->on_done(StoppedError());
  for (auto& p : parked) {
    Deliver(std::move(p.on_queued), std::move(p.on_admitted), StoppedError());
  }
  for (auto& [v, waiter] : waiters) waiter.second(StoppedError());
}

}  // namespace streamfit
