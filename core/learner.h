// The single writer of one live model: a thread that applies queued example
// batches in order and publishes immutable, versioned copies for readers.
#ifndef STREAMFIT_CORE_LEARNER_H_
#define STREAMFIT_CORE_LEARNER_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/model/example_batch.h"
#include "core/model/linear_model.h"
#include "core/model/model_slot.h"
#include "core/model/model_trainer.h"
#include "core/storage/journal.h"

namespace streamfit {

// Contract:
// - Batches are applied in the order Submit admits them; the model's version
//   is the number of samples applied. Nothing else changes the model, except
//   Adopt (a retrain swap) and a challenger's promotion, which keep the
//   version (docs/RETRAIN.md, docs/LEARNING.md "Champion and challengers").
// - The model is a ModelSlot: the champion, which Current() publishes, and
//   its challengers, which learn the same samples on this thread and are
//   published with it in CurrentSlot().
// - Current() returns the latest published state: an immutable model after
//   exactly its version() samples. It never waits for training (one atomic
//   load). A state is published after each batch when the queue runs empty
//   and at least every `publish_every` samples, and, if `publish_interval` is
//   set, at least every `publish_interval` of training (checked every 64
//   samples): the freshness bound.
// - Memory is bounded: at most `queue_capacity` samples and
//   `queue_capacity_bytes` bytes of batches wait in the queue (a single
//   larger batch is admitted alone), plus one parked batch per producer that
//   waits for room. Producers are told when their batch is
//   admitted, so they can stop reading until then (backpressure).
// Thread-safe: every public method may be called from any thread. Callbacks
// run on the caller's thread or on the learner thread; they must not block.
class Learner {
 public:
  struct Options {
    size_t queue_capacity = 1 << 16;         // samples
    size_t queue_capacity_bytes = 32 << 20;  // ExampleBatch::ByteSize()
    uint64_t publish_every = 1024;           // samples
    // Publish when this long has passed since the last publish while
    // training; zero: no time bound (the queue running empty still
    // publishes).
    absl::Duration publish_interval = absl::ZeroDuration();
  };

  // Starts the learner thread with `model` as its initial state. With a
  // `journal` (not owned, must outlive the learner), each batch is appended
  // to it before it is queued, and applied only once the journal says it is
  // durable; on_queued runs then. An error ack means the batch is applied
  // neither now nor after a restart: a batch the journal refuses is not
  // queued, and when durability fails (Journal::WhenDurable's error) every
  // queued batch not yet durable is dropped, later batches are refused by
  // the journal (UNAVAILABLE) and the learner reopens the journal at its
  // durable end (retrying every 100 ms) before it admits work again.
  // Published states keep serving meanwhile.
  Learner(LinearModel model, Options options, Journal* journal = nullptr);
  // Starts from a champion and its challengers (a recovered checkpoint).
  Learner(SlotState slot, Options options, Journal* journal = nullptr);
  Learner(const Learner&) = delete;
  Learner& operator=(const Learner&) = delete;
  // Stops (see Stop).
  ~Learner();

  // Called with the version the model will have once the batch's last sample
  // is applied, or with an error if the learner stopped first.
  using QueuedCallback = absl::AnyInvocable<void(absl::StatusOr<uint64_t>)>;
  // Queues a batch (which must pass ValidateBatch) behind every batch admitted
  // before. `on_queued` runs before Submit returns if there is room, otherwise
  // on the learner thread once there is.
  // `on_admitted`, if set, runs once the batch is admitted, before
  // `on_queued`: with a journal, on_queued waits until the record is durable,
  // and a producer may send its next batch meanwhile (group commit). A
  // refused batch (journal error, learner stopped) gets only on_queued, with
  // the error, so a producer that reads on from on_admitted never sends
  // anything after a refused batch.
  using AdmittedCallback = absl::AnyInvocable<void()>;
  void Submit(ExampleBatch batch, QueuedCallback on_queued,
              AdmittedCallback on_admitted = nullptr);

  using StateCallback = absl::AnyInvocable<void(
      absl::StatusOr<std::shared_ptr<const LinearModel>>)>;
  // Calls `callback` with the first published state whose version is at
  // least `version`: at once if it is already published. If the learner stops
  // first, calls it with ABORTED. Returns the waiter's id for CancelWait, or
  // 0 if `callback` already ran.
  uint64_t WhenVersion(uint64_t version, StateCallback callback);
  // Forgets waiter `id` without calling it (its caller gave up, e.g. a
  // cancelled call), freeing the callback. False if it already ran, was
  // cancelled before, or `id` is 0.
  bool CancelWait(uint64_t id) ABSL_LOCKS_EXCLUDED(mu_);
  // Waiters registered and neither called nor cancelled yet.
  size_t WaiterCount() const ABSL_LOCKS_EXCLUDED(mu_);

  const Options& options() const { return options_; }
  // The version the model will have once every batch admitted so far is
  // applied.
  uint64_t AdmittedVersion() const ABSL_LOCKS_EXCLUDED(mu_);
  // Samples admitted to the queue and not taken by the learner thread yet.
  size_t QueuedSamples() const ABSL_LOCKS_EXCLUDED(mu_);
  // How long before `now` the oldest sample admitted but not yet in a
  // published state was admitted; zero when every admitted sample is
  // published.
  absl::Duration PublishLag(absl::Time now) const ABSL_LOCKS_EXCLUDED(mu_);
  // Their ExampleBatch::ByteSize().
  size_t QueuedBytes() const ABSL_LOCKS_EXCLUDED(mu_);

  std::shared_ptr<const LinearModel> Current() const {
    return published_.load(std::memory_order_acquire);
  }
  // The latest published challengers with their champion (at least as new
  // as the Current() read before it); null when the model has none and
  // dropped none.
  std::shared_ptr<const PublishedSlot> CurrentSlot() const {
    return published_slot_.load(std::memory_order_acquire);
  }

  // Applies everything admitted so far, publishes it, then refuses new work:
  // parked batches and unmet waiters get ABORTED. Idempotent.
  void Stop();

  // --- Swapping in a batch-fitted model (learner_swap.cc) ---
  // Starts keeping a copy of every batch applied from now on (at most
  // `max_samples` samples; past that the recording is marked overflowed and
  // emptied). Returns the cutoff: the version the model has before the first
  // recorded sample. FAILED_PRECONDITION if a recording is already running,
  // ABORTED if stopped.
  absl::StatusOr<uint64_t> BeginRecording(uint64_t max_samples);
  // Drops the recording, if any (a failed or cancelled retrain).
  void EndRecording();
  // Samples recorded so far.
  uint64_t RecordedSamples() const;

  using AdoptCallback = absl::AnyInvocable<void(absl::StatusOr<uint64_t>)>;
  // Between two batches on the learner thread: replaces the model with
  // `fitted` (its config must equal the model's) continued by every recorded
  // sample in order, so its version is the live version, publishes it and
  // ends the recording. `on_done` gets that version, or the model stays
  // untouched and it gets FAILED_PRECONDITION (no recording, another config,
  // or the model held hashed state at the cutoff: a fit learns dense
  // features only, so the swap would drop it), RESOURCE_EXHAUSTED (the
  // recording overflowed) or ABORTED (stopped first). Batches admitted but not
  // applied yet are learned after the swap, by the new model. `on_swap`, if
  // set, runs on the learner thread at a swap, just before on_done, with the
  // replaced and the new model, both at the swap's version.
  using SwapObserver = absl::AnyInvocable<void(const LinearModel& replaced,
                                               const LinearModel& adopted)>;
  void Adopt(LinearModel fitted, AdoptCallback on_done,
             SwapObserver on_swap = nullptr);
  // Between two batches on the learner thread: replaces the model with
  // `next` as it is (no recording is replayed) and publishes it. `next` must
  // have the model's config and be at the version every admitted batch
  // reaches, with none of them still queued (its caller is the only
  // submitter and waited for them); else the model stays untouched and
  // `on_done` gets FAILED_PRECONDITION. ABORTED if stopped first.
  void Replace(LinearModel next, AdoptCallback on_done,
               SwapObserver on_swap = nullptr);

  // --- Challengers (learner_challengers.cc) ---
  // Each runs between two batches on the learner thread, publishes the
  // slot and calls `on_done` there with the version it took effect at
  // (ModelSlot's errors; ABORTED if stopped first). From then on Submit
  // refuses a batch that any learner of the slot cannot learn; adding a
  // challenger that cannot learn a batch already queued fails with
  // FAILED_PRECONDITION.
  void AddChallenger(std::string name, ModelConfig config,
                     AdoptCallback on_done);
  // Like AddChallenger, for challenger `name` of `caught_up`: a slot that
  // learned this model's samples up to its version, at most the model's
  // (ModelSlot::TakeChallenger). `catch_up` continues it to the model's
  // version first, on the learner thread, so the model learns nothing
  // meanwhile; its error is on_done's.
  using SlotCatchUp =
      absl::AnyInvocable<absl::Status(ModelSlot& slot, uint64_t to_version)>;
  void JoinChallenger(ModelSlot caught_up, std::string name,
                      SlotCatchUp catch_up, AdoptCallback on_done);
  void RemoveChallenger(std::string name, AdoptCallback on_done);
  using PromotionCallback = absl::AnyInvocable<void(absl::StatusOr<Promotion>)>;
  void PromoteChallenger(std::string name, PromotionCallback on_done);
  // The automatic promotions (ModelPolicies.promote_confidence) published
  // since the last call, oldest first (the newest 16 are kept), for the
  // caller to make durable and report.
  std::vector<Promotion> TakePromotions() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  class Ack;
  // ABORTED: what work gets once the learner has stopped.
  static absl::Status StoppedError();
  void Run();
  // Learner thread, with a journal: after a durability failure, drops the
  // batches that will never be durable and tries to reopen the journal.
  // Returns true if the caller should loop (it may have waited).
  bool RecoverJournal() ABSL_LOCKS_EXCLUDED(admission_mu_, mu_);
  // The journal's verdict on the batch ending at `end_version`.
  void OnDurable(uint64_t end_version, const absl::Status& status)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The queue's first batch may be applied: there is no journal, or it is
  // durable.
  bool FrontIsDurable() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Stopping, and nothing left to apply or to wait for: the learner thread
  // may leave.
  bool Drained() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool HasRoom(const ExampleBatch& batch) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Keeps queued_samples_ and queued_bytes_ in step with queue_.
  void PushQueue(ExampleBatch batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  ExampleBatch PopQueueFront() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PopQueueBack() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Refuses a batch admission_checks_ refuses (INVALID_ARGUMENT naming the
  // learner); else journals it, the samples after `start_version` (the
  // admitted version), appends it to the queue and arranges for `ack` to
  // complete once it is durable; returns the version after its last sample, or
  // the journal's error (nothing is queued then, and `ack` is completed with
  // it). The journal write holds only admission_mu_, so the learner thread
  // can take its next batch meanwhile.
  absl::StatusOr<uint64_t> Admit(uint64_t start_version, ExampleBatch batch,
                                 std::shared_ptr<Ack> ack)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(admission_mu_) ABSL_LOCKS_EXCLUDED(mu_);
  // Learner thread: admits parked batches in order while there is room.
  void AdmitParked() ABSL_LOCKS_EXCLUDED(admission_mu_, mu_);
  // Runs on_admitted (admitted batches only: a refused batch gets only
  // on_queued, with its error), then lets `ack` run on_queued (at once if
  // its result is known, else once it is).
  void Deliver(const std::shared_ptr<Ack>& ack, AdmittedCallback on_admitted,
               bool admitted) ABSL_LOCKS_EXCLUDED(mu_);
  // Publishes a copy of model_ and returns the waiters it satisfies.
  std::vector<StateCallback> Publish() ABSL_LOCKS_EXCLUDED(mu_);
  // Work for the learner thread between two batches: called with true
  // there, or with false if the learner stopped first.
  using Task = absl::AnyInvocable<void(bool run)>;
  void RunOnLearnerThread(Task task) ABSL_LOCKS_EXCLUDED(mu_);
  // Learner thread: runs the queued tasks (learner_challengers.cc).
  void RunPendingTasks() ABSL_LOCKS_EXCLUDED(mu_);
  // Learner thread: publishes and calls the waiters it satisfies.
  void PublishNow() ABSL_LOCKS_EXCLUDED(mu_);
  // Learner thread: keeps automatic promotions for TakePromotions.
  void KeepPromotions(std::vector<Promotion> promotions)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The slot view Publish stores, with `champion` its published state.
  static std::shared_ptr<const PublishedSlot> PublishedSlotOf(
      const ModelSlot& slot, std::shared_ptr<const LinearModel> champion);
  // Learner thread: runs a pending Adopt, if any (learner_swap.cc).
  void RunPendingAdoption() ABSL_LOCKS_EXCLUDED(mu_);
  // Learner thread: keeps an applied batch popped while recording
  // `generation` was running (0: none).
  void Record(ExampleBatch batch, uint64_t generation) ABSL_LOCKS_EXCLUDED(mu_);

  struct Parked {
    ExampleBatch batch;
    std::shared_ptr<Ack> ack;
    AdmittedCallback on_admitted;
  };

  // Constant after construction.
  const Options options_;
  Journal* const journal_;
  // The champion's config at construction, which the caller validates
  // batches against before Submit (ValidateBatch).
  const ModelConfig admission_config_;

  // Owned by the learner thread alone.
  ModelSlot slot_;
  uint64_t unpublished_ = 0;
  uint64_t checked_membership_ = 0;  // slot_.membership_changes() then
  // Learner thread: admission_checks_ for the slot's learners now.
  void RefreshAdmissionChecks() ABSL_LOCKS_EXCLUDED(admission_mu_);
  // Learner thread: adds challenger `name` to slot_ with `add`, then takes
  // it out again with FAILED_PRECONDITION if a queued batch is one it
  // cannot learn; publishes. Returns the version it joined at.
  absl::StatusOr<uint64_t> AdmitChallenger(
      const std::string& name, absl::FunctionRef<absl::Status()> add)
      ABSL_LOCKS_EXCLUDED(admission_mu_, mu_);
  // Learner thread, admissions held: FAILED_PRECONDITION if a queued batch
  // is one challenger `name` cannot learn.
  absl::Status CheckQueuedFor(const std::string& name)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(admission_mu_) ABSL_LOCKS_EXCLUDED(mu_);
  absl::Time last_publish_ = absl::Now();
  // True when publish_interval has passed since last_publish_.
  bool PublishIsDue() const;

  std::atomic<std::shared_ptr<const LinearModel>> published_;
  std::atomic<std::shared_ptr<const PublishedSlot>> published_slot_;

  // Held across a whole admission (room check, journal append, queue push),
  // so the journal's order is the queue's; taken before mu_.
  absl::Mutex admission_mu_;
  // What Admit checks besides: the learners of the slot whose configs may
  // refuse what admission_config_ accepts (a promoted champion, challengers),
  // so every learner can learn every batch admitted.
  std::vector<SlotCheck> admission_checks_ ABSL_GUARDED_BY(admission_mu_);
  mutable absl::Mutex mu_ ABSL_ACQUIRED_AFTER(admission_mu_);
  absl::CondVar work_;
  std::deque<ExampleBatch> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_samples_ ABSL_GUARDED_BY(mu_) = 0;
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<Parked> parked_ ABSL_GUARDED_BY(mu_);
  uint64_t admitted_version_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t published_version_ ABSL_GUARDED_BY(mu_) = 0;
  // Each admitted batch not yet wholly published: the version after its
  // last sample and when it was admitted, oldest first.
  std::deque<std::pair<uint64_t, absl::Time>> unpublished_admissions_
      ABSL_GUARDED_BY(mu_);
  // Waiters by the version they wait for, each with its id; and where each
  // id sits, for CancelWait (multimap iterators stay valid until erased).
  using Waiters = std::multimap<uint64_t, std::pair<uint64_t, StateCallback>>;
  Waiters waiters_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, Waiters::iterator> waiter_ids_
      ABSL_GUARDED_BY(mu_);
  uint64_t next_waiter_id_ ABSL_GUARDED_BY(mu_) = 1;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<Task> tasks_ ABSL_GUARDED_BY(mu_);
  std::vector<Promotion> promotions_ ABSL_GUARDED_BY(mu_);
  // With a journal: the version up to which admitted batches are durable,
  // the durability callbacks not yet run (the learner thread outlives
  // them), and the failure that stops admissions until the journal reopens.
  uint64_t durable_version_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t pending_durability_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status journal_error_ ABSL_GUARDED_BY(mu_);
  bool undurable_dropped_ ABSL_GUARDED_BY(mu_) = false;

  // Retrain swap state (learner_swap.cc).
  struct Recording {
    uint64_t generation = 0;
    uint64_t cutoff = 0;
    uint64_t max_samples = 0;
    uint64_t samples = 0;
    bool overflowed = false;
    // Whether the model held hashed state at the cutoff, taken by the
    // learner thread when it pops the first recorded batch (or adopts).
    std::optional<bool> hashed_at_cutoff;
    std::vector<ExampleBatch> batches;
  };
  struct Adoption {
    LinearModel fitted;
    AdoptCallback on_done;
    SwapObserver on_swap;
    bool replay_recording;  // Adopt; false: Replace
  };
  std::optional<Recording> recording_ ABSL_GUARDED_BY(mu_);
  uint64_t recording_generation_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<Adoption> adoption_ ABSL_GUARDED_BY(mu_);
  void QueueAdoption(Adoption adoption) ABSL_LOCKS_EXCLUDED(mu_);
  // Learner thread: makes `next` the model and publishes it.
  void Install(Adoption adoption, ModelTrainer next) ABSL_LOCKS_EXCLUDED(mu_);

  std::thread thread_;  // last: starts after everything above exists
};

}  // namespace streamfit

#endif  // STREAMFIT_CORE_LEARNER_H_
