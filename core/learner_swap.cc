// Learner methods that swap a batch-fitted model in: recording the
// batches applied during a retrain and replaying them onto the fitted model.
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/learner.h"

namespace streamfit {

absl::StatusOr<uint64_t> Learner::BeginRecording(uint64_t max_samples) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return StoppedError();
  if (recording_ || adoption_) {
    return absl::FailedPreconditionError(
        "the model is already recording for another retrain");
  }
  // Every batch popped so far is applied before the first recorded one.
  const uint64_t cutoff = admitted_version_ - queued_samples_;
  recording_ =
      Recording{++recording_generation_, cutoff, max_samples, 0, false, {}, {}};
  return cutoff;
}

void Learner::EndRecording() {
  absl::MutexLock lock(&mu_);
  recording_.reset();
}

uint64_t Learner::RecordedSamples() const {
  absl::MutexLock lock(&mu_);
  return recording_ ? recording_->samples : 0;
}

void Learner::Record(ExampleBatch batch, uint64_t generation) {
  absl::MutexLock lock(&mu_);
  if (!recording_ || recording_->generation != generation ||
      recording_->overflowed) {
    return;
  }
  recording_->samples += batch.size();
  if (recording_->samples > recording_->max_samples) {
    recording_->overflowed = true;
    recording_->batches.clear();
    recording_->batches.shrink_to_fit();
    return;
  }
  recording_->batches.push_back(std::move(batch));
}

void Learner::Adopt(LinearModel fitted, AdoptCallback on_done,
                    SwapObserver on_swap) {
  QueueAdoption(Adoption{std::move(fitted), std::move(on_done),
                         std::move(on_swap), /*replay_recording=*/true});
}

void Learner::Replace(LinearModel next, AdoptCallback on_done,
                      SwapObserver on_swap) {
  QueueAdoption(Adoption{std::move(next), std::move(on_done),
                         std::move(on_swap), /*replay_recording=*/false});
}

void Learner::QueueAdoption(Adoption adoption) {
  absl::Status refusal;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      refusal = StoppedError();
    } else if (adoption_) {
      refusal = absl::FailedPreconditionError(
          "the learner is already adopting a model");
    } else {
      adoption_ = std::move(adoption);
      work_.Signal();
      return;
    }
  }
  adoption.on_done(std::move(refusal));
}

void Learner::RunPendingAdoption() {
  std::optional<Adoption> adoption;
  std::optional<Recording> recording;
  bool replacement_ok = false;
  {
    absl::MutexLock lock(&mu_);
    if (!adoption_) return;
    adoption.swap(adoption_);
    if (adoption->replay_recording) recording.swap(recording_);
    if (!adoption->replay_recording && queued_samples_ == 0 &&
        adoption->fitted.version() == slot_.version() &&
        adoption->fitted.config() == slot_.model().config()) {
      replacement_ok = true;
    }
  }
  auto fail = [&](absl::Status status) {
    adoption->on_done(std::move(status));
  };
  if (!adoption->replay_recording) {
    if (!replacement_ok) {
      return fail(absl::FailedPreconditionError(absl::StrCat(
          "the replacement at version ", adoption->fitted.version(),
          " does not continue the model (at ", slot_.version(),
          ", with batches queued or another config)")));
    }
    ModelTrainer next(std::move(adoption->fitted));
    return Install(*std::move(adoption), std::move(next));
  }
  if (!recording) {
    return fail(absl::FailedPreconditionError(
        "no recording: the retrain's samples since its start are unknown"));
  }
  if (recording->overflowed) {
    return fail(absl::ResourceExhaustedError(absl::StrCat(
        "over ", recording->max_samples,
        " samples arrived during the retrain; the live model is kept "
        "(raise --retrain_replay_limit)")));
  }
  // With no batch recorded, slot_ is still at the cutoff.
  const LinearModel& live = slot_.model();
  if (recording->hashed_at_cutoff.value_or(live.HasHashedState())) {
    return fail(absl::FailedPreconditionError(
        "the model had learned hashed or named features before the retrain "
        "began; a batch fit learns dense features only and the swap would "
        "drop them"));
  }
  if (!(adoption->fitted.config() == live.config())) {
    return fail(absl::FailedPreconditionError(
        "the fitted model's config differs from the live model's"));
  }
  if (recording->cutoff + recording->samples != live.version()) {
    return fail(absl::InternalError(absl::StrCat(
        "recording covers versions ", recording->cutoff, "+",
        recording->samples, " but the model is at ", live.version())));
  }
  // The fitted model continues from the cutoff, so after the replay its
  // version is the live one: versions never go back.
  absl::StatusOr<LinearModel> fitted =
      LinearModel::FromState(adoption->fitted.config(), recording->cutoff,
                             adoption->fitted.ExportState());
  if (!fitted.ok()) return fail(fitted.status());
  ModelTrainer next(*std::move(fitted));
  for (const ExampleBatch& batch : recording->batches) next.LearnBatch(batch);
  Install(*std::move(adoption), std::move(next));
}

void Learner::Install(Adoption adoption, ModelTrainer next) {
  if (adoption.on_swap) adoption.on_swap(slot_.model(), next.model());
  slot_.ReplaceChampion(std::move(next));
  std::vector<StateCallback> ready = Publish();
  adoption.on_done(slot_.version());
  for (auto& cb : ready) cb(Current());
}

}  // namespace streamfit
