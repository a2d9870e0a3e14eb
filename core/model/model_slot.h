// One model slot: the champion, whose state is served, and its challengers,
// learners of other configurations that learn every sample the champion
// learns from the version they joined at, compared with it on those samples.
#ifndef STREAMFIT_CORE_MODEL_MODEL_SLOT_H_
#define STREAMFIT_CORE_MODEL_MODEL_SLOT_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/model/example_batch.h"
#include "core/model/linear_model.h"
#include "core/model/model_config.h"
#include "core/model/model_trainer.h"

namespace streamfit {

// A challenger's comparison with the champion, kept per block of
// ModelSlot::kBlock versions (blocks end at the multiples of kBlock).
struct ChallengerRecord {
  std::string name;
  uint64_t start_version = 0;  // the version it joined at
  // The comparison (re)starts at the first block end at or after the
  // challenger joined or the champion changed (a promotion, a retrain
  // swap); both progressive loss sums (LinearModel::loss_sum) then, set
  // once the slot reaches that version.
  uint64_t comparison_start = 0;
  double champion_loss_at_start = 0;
  double challenger_loss_at_start = 0;
  // Per block, oldest first (at most ModelSlot::kMaxBlocks): the champion's
  // mean progressive loss minus the challenger's over the block's samples
  // (positive: the challenger did better); and both loss sums at the start
  // of the block under way.
  std::vector<double> block_differences;
  double champion_loss_at_block = 0;
  double challenger_loss_at_block = 0;
};

// A challenger's complete state: its record and its model (at the
// champion's version).
struct ChallengerState {
  ChallengerRecord record;
  LinearModel model;
};

// The champion and its challengers at one version (a checkpoint's content).
struct SlotState {
  LinearModel champion;
  std::vector<ChallengerState> challengers;
};

// A challenger that left the slot because its config refused a sample the
// champion learned.
struct DroppedChallenger {
  std::string name;
  uint64_t version = 0;  // the slot's version then
  std::string reason;
};

// A published view of a slot: the champion's published state, copies of
// the challengers at its version, and the newest challengers dropped.
struct PublishedSlot {
  std::shared_ptr<const LinearModel> champion;
  std::vector<ChallengerState> challengers;
  std::vector<DroppedChallenger> dropped;
};

// How a challenger compares with the champion: since the comparison
// started, and over the newest blocks that cover `window` samples.
struct ChallengerComparison {
  uint64_t compared_samples = 0;  // since comparison_start
  double champion_loss = 0;       // their mean progressive losses
  double challenger_loss = 0;
  uint64_t window_samples = 0;  // in the newest blocks, at most the window
  // The mean of their block differences (positive: the challenger is
  // better), and Phi(t), t = mean / (sd / sqrt(n)) over those n blocks: the
  // one-sided confidence that the challenger's loss is the lower one (0.5
  // with fewer than two blocks). Blocks of 128 samples make neighbouring
  // differences nearly independent, which this normal approximation
  // assumes.
  double loss_difference = 0;
  double confidence = 0.5;
};
ChallengerComparison Compare(const ChallengerRecord& record,
                             const LinearModel& champion,
                             const LinearModel& challenger, uint64_t window);

// A challenger made champion, at `version`.
struct Promotion {
  std::string name;
  uint64_t version = 0;
  bool automatic = false;           // by ModelPolicies.promote_confidence
  ChallengerComparison comparison;  // over promote_window, when it was made
  MetricsSummary replaced;          // the champion's metrics just before
  // The slot just after: the new champion and the remaining challengers.
  std::shared_ptr<const PublishedSlot> state;
};

// Whether a model of `config` may refuse a sample that one of `base`
// accepts (ValidateBatch's config-dependent checks: rls takes no sparse
// features, poisson no negative label, interactions change the per-example
// work).
bool MayRefuse(const ModelConfig& config, const ModelConfig& base);

// A learner of a slot whose config may refuse what `base` accepts: its name
// (empty for the champion) and config.
struct SlotCheck {
  std::string challenger;
  ModelConfig config;
};

// Learns a champion and up to kMaxChallengers challengers over the same
// samples. Each challenger's model keeps the champion's version (it starts
// empty at the version it joins at) and its own progressive metrics; a
// promotion makes it the champion without a version step, so the slot
// continues bit-identically. With ModelPolicies.promote_confidence set,
// LearnBatch tests once per window, at the versions that are multiples of
// promote_window (rounded up to whole blocks), and promotes the challenger
// with the highest confidence over the window once it reaches the policy's
// confidence (every challenger that has learned a full window is
// considered): a decision made from the samples alone, so a replay of the
// same log makes the same ones. A challenger that meets a sample its config
// does not accept (ValidateBatch: e.g. sparse features for rls) leaves the
// slot; the reason is kept in dropped(). Not thread-safe: the learner
// thread's.
class ModelSlot {
 public:
  static constexpr uint64_t kBlock = 128;
  static constexpr size_t kMaxBlocks = kMaxPromoteWindow / kBlock;
  static constexpr size_t kMaxChallengers = 8;

  explicit ModelSlot(LinearModel champion);
  explicit ModelSlot(SlotState state);

  // Learns examples [begin, end) of `batch` (valid for the champion's
  // config) into the champion and every challenger, in blocks; appends the
  // promotions made on the way to `promotions` if set.
  void LearnBatch(const ExampleBatch& batch, size_t begin, size_t end,
                  std::vector<Promotion>* promotions = nullptr);

  const LinearModel& model() const { return champion_.model(); }
  const ModelConfig& config() const { return champion_.config(); }
  uint64_t version() const { return champion_.version(); }
  bool has_challengers() const { return !challengers_.empty(); }

  // A new champion (a retrain swap) at the slot's version; the challengers
  // stay and their comparisons restart.
  void ReplaceChampion(ModelTrainer next);

  // Adds an empty challenger of `config` (valid by WithDefaults) at the
  // slot's version; its policies are the champion's (they belong to the
  // slot). INVALID_ARGUMENT for an empty name, an invalid config or one
  // whose task, features or classes differ from the champion's;
  // ALREADY_EXISTS; RESOURCE_EXHAUSTED past kMaxChallengers.
  absl::Status AddChallenger(std::string name, const ModelConfig& config);
  // Moves challenger `name` of `other` into this slot with what it learned
  // and its record. `other` is a slot at this slot's version that learned
  // the same samples since the challenger started (its champion rebuilt
  // from the log), so the comparison is kept when other's champion is this
  // one bit for bit (it compared against the same champion on every
  // sample), and restarts otherwise (the champion changed meanwhile: a
  // promotion or a retrain swap). FAILED_PRECONDITION if the versions
  // differ; other.Holds(name)'s error; ALREADY_EXISTS and
  // RESOURCE_EXHAUSTED as AddChallenger.
  absl::Status TakeChallenger(ModelSlot& other, absl::string_view name);
  // OK if challenger `name` learns in this slot; FAILED_PRECONDITION with
  // the reason if it was dropped, else NOT_FOUND.
  absl::Status Holds(absl::string_view name) const;
  // NOT_FOUND if there is no challenger `name`.
  absl::Status RemoveChallenger(absl::string_view name);
  // Makes challenger `name` the champion; the old champion is dropped and
  // the other challengers' comparisons restart. NOT_FOUND.
  absl::StatusOr<Promotion> Promote(absl::string_view name);

  // The champion and the challengers, moved out.
  SlotState TakeState() &&;
  // The learners whose configs may refuse what a model of `base` accepts.
  std::vector<SlotCheck> ChecksAgainst(const ModelConfig& base) const;
  // Counts the changes of who learns: added, removed, promoted, dropped.
  uint64_t membership_changes() const { return membership_changes_; }
  // Copies of the challengers, in the order they joined.
  std::vector<ChallengerState> ChallengerStates() const;
  const std::vector<DroppedChallenger>& dropped() const { return dropped_; }
  // Keeps LearnBatch from promoting automatically: for a slot that catches
  // a challenger up for TakeChallenger, where the live slot decides.
  void DisableAutomaticPromotion() { promotes_ = false; }

 private:
  struct Challenger {
    ModelTrainer trainer;
    ChallengerRecord record;
    bool validates;  // its config may refuse what the champion accepts
    // The start version of the last batch it validated, so that a batch
    // learned in several runs is validated once.
    uint64_t validated_batch = UINT64_MAX;
  };
  // Learns [begin, end), within one block, into every challenger.
  void LearnChallengers(const ExampleBatch& batch, size_t begin, size_t end);
  // At a block end: closes each challenger's block, then promotes if the
  // policy says so.
  void EndBlock(std::vector<Promotion>* promotions);
  void RestartComparison(Challenger& c) const;
  // ALREADY_EXISTS if there is a challenger `name`; RESOURCE_EXHAUSTED if
  // the slot is full.
  absl::Status CheckRoomFor(absl::string_view name) const;
  Promotion PromoteAt(size_t index, bool automatic,
                      const ChallengerComparison& comparison);

  ModelTrainer champion_;
  std::vector<Challenger> challengers_;
  std::vector<DroppedChallenger> dropped_;  // the newest kMaxChallengers
  uint64_t membership_changes_ = 0;
  bool promotes_ = true;
};

}  // namespace streamfit

#endif  // STREAMFIT_CORE_MODEL_MODEL_SLOT_H_
