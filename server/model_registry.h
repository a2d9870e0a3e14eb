// The live models of one server, by name.
#ifndef STREAMFIT_SERVER_MODEL_REGISTRY_H_
#define STREAMFIT_SERVER_MODEL_REGISTRY_H_

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/learner.h"
#include "core/model/model_config.h"
#include "core/storage/sample_log.h"
#include "server/metrics/duration_histogram.h"
#include "server/metrics/refusal_counts.h"
#include "server/model_lineage.h"

namespace streamfit {

// One live model: its name, its configuration and its learner, and when it
// is durable its directory and sample log (the learner's journal). `config`
// is the one the model started this process with; a promoted challenger
// brings its own learning settings (the task, features, classes and
// policies stay), so what learns now is learner.Current()->config().
// The learner and log are thread-safe; the other fields are constant except
// the checkpoint bookkeeping, guarded by checkpoint_mu, the lineage
// (read and set through its thread-safe accessors) and the metrics
// (thread-safe counts read at scrape time).
struct LiveModel {
  LiveModel(std::string name, const LinearModel& initial,
            const Learner::Options& options, std::string dir = "",
            std::unique_ptr<SampleLog> log = nullptr, std::string failure = "",
            std::vector<ChallengerState> challengers = {})
      : name(std::move(name)),
        config(initial.config()),
        dir(std::move(dir)),
        failure(std::move(failure)),
        log(std::move(log)),
        learner(SlotState{initial, std::move(challengers)}, options,
                this->log.get()),
        checkpointed_version(initial.version()) {}

  // FAILED_PRECONDITION if the model is failed (it may not learn).
  absl::Status CheckNotFailed() const;

  // How the model's state came to be (ModelInfo.lineage).
  Lineage GetLineage() const ABSL_LOCKS_EXCLUDED(lineage_mu_);
  void SetLineage(Lineage lineage) ABSL_LOCKS_EXCLUDED(lineage_mu_);
  // The latest MeasureBatchGap (ModelInfo.batch_gap); nullopt: none yet.
  std::optional<v1::BatchGap> GetBatchGap() const
      ABSL_LOCKS_EXCLUDED(lineage_mu_);
  void SetBatchGap(v1::BatchGap gap) ABSL_LOCKS_EXCLUDED(lineage_mu_);

  const std::string name;
  const ModelConfig config;
  const std::string dir;  // empty: in memory only
  // Empty, or why the model is failed: recovery met a log record it could
  // not apply. A failed model serves its state from before that record and
  // refuses new samples (they would be logged after it).
  const std::string failure;
  const std::unique_ptr<SampleLog> log;  // null: in memory only
  Learner learner;  // after log: stopped before the log closes

  absl::Mutex checkpoint_mu;  // one checkpoint writer at a time
  uint64_t checkpointed_version ABSL_GUARDED_BY(checkpoint_mu);
  absl::Time checkpointed_at ABSL_GUARDED_BY(checkpoint_mu) = absl::Now();

  metrics::RefusalCounts refusals;  // Observe and Predict refused
  metrics::DurationHistogram checkpoint_durations;  // each checkpoint write

 private:
  mutable absl::Mutex lineage_mu_;  // the model's history: lineage and gap
  Lineage lineage_ ABSL_GUARDED_BY(lineage_mu_);
  std::optional<v1::BatchGap> batch_gap_ ABSL_GUARDED_BY(lineage_mu_);
};

class ModelStore;

// How many models a registry holds and how large each may be.
struct RegistryLimits {
  uint64_t max_models = 1000;
  // ModelStateBytes of a model's config (default 1 GiB); see
  // kMaxModelBytesLimit.
  uint64_t max_model_bytes = uint64_t{1} << 30;
};

// The largest --max_model_bytes allowed: a snapshot of a model encodes at
// most 4/3 of its state bytes plus small change (SnapshotBytesBound), so
// every allowed model's checkpoint and Snapshot fits protobuf's 2 GiB
// message limit.
inline constexpr uint64_t kMaxModelBytesLimit = uint64_t{5} << 28;  // 1.25 GiB

// Lookups (Get, List) never wait on a lock held across disk work.
// Names follow ValidateName (server/names.h). Thread-safe. A deleted
// model's learner is stopped at once (pending work gets ABORTED); callers
// holding its shared_ptr may still read its last state.
class ModelRegistry {
 public:
  // With a `store` (not owned, must outlive the registry), models are
  // durable: created, deleted and restored through it.
  explicit ModelRegistry(Learner::Options learner_options = {},
                         ModelStore* store = nullptr,
                         RegistryLimits limits = {})
      : learner_options_(learner_options), store_(store), limits_(limits) {}
  ~ModelRegistry() { StopAll(); }

  // INVALID_ARGUMENT on a bad name or config, ALREADY_EXISTS on a taken
  // name, RESOURCE_EXHAUSTED when max_models are there or the model's state
  // would exceed max_model_bytes.
  absl::StatusOr<std::shared_ptr<LiveModel>> Create(absl::string_view name,
                                                    const ModelConfig& config);
  // Create, with `initial` (a state of a config after WithDefaults) as the
  // model's first state (Kafka mode: a model recovered from a checkpoint).
  absl::StatusOr<std::shared_ptr<LiveModel>> CreateWithState(
      absl::string_view name, const LinearModel& initial);
  // RESOURCE_EXHAUSTED (naming the computed size) if a model with `config`
  // (after WithDefaults) would exceed max_model_bytes or its snapshot
  // protobuf's message limit.
  absl::Status CheckModelSize(const ModelConfig& config) const;
  // NOT_FOUND on an unknown name, INVALID_ARGUMENT on an empty one.
  absl::StatusOr<std::shared_ptr<LiveModel>> Get(absl::string_view name) const;
  std::vector<std::shared_ptr<LiveModel>> List() const;  // by name
  absl::Status Delete(absl::string_view name);
  // Replaces model `name` by `state` (rollback to a snapshot), durably when
  // there is a store; the old learner stops (its pending work gets ABORTED).
  // NOT_FOUND on an unknown name; FAILED_PRECONDITION, naming both shapes,
  // if `state` has another shape than the model (SameShape) unless
  // `allow_reshape`; RESOURCE_EXHAUSTED as CheckModelSize.
  // `origin` goes into the model's lineage; the lifetime metrics it records
  // count what the replaced model applied, after waiting (up to 5 s) for it
  // to apply what it had admitted.
  absl::StatusOr<std::shared_ptr<LiveModel>> Restore(
      absl::string_view name, const LinearModel& state,
      bool allow_reshape = false, const RestoreOrigin& origin = {});
  // After a retrain swap into `model`: checkpoints the state it published
  // (the log holds samples, not the fit), then the swap joins the model's
  // lineage (durably with a store; not if the model was deleted or restored
  // meanwhile).
  absl::Status RecordSwap(LiveModel& model, const SwapRecord& swap);
  // After a challenger's promotion in `model`, the same.
  absl::Status RecordPromotion(LiveModel& model, const Promotion& promotion);
  // Adds the models the store recovered (at start, before serving).
  absl::Status RecoverFromStore();
  // Stops every learner (used at shutdown, after they drained).
  void StopAll();

 private:
  using ModelMap =
      std::map<std::string, std::shared_ptr<LiveModel>, std::less<>>;
  // Checkpoints `state` (with a store), then appends `event` to the
  // lineage of `model` if it is still the registry's, `replaced` being the
  // replaced state's metrics.
  absl::Status RecordInstall(LiveModel& model,
                             std::shared_ptr<const PublishedSlot> state,
                             v1::ModelLineage event,
                             const MetricsSummary& replaced);
  // Replaces the published map by `next` (write_mu_ held).
  void Publish(ModelMap next) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);

  const Learner::Options learner_options_;
  ModelStore* const store_;
  const RegistryLimits limits_;
  // Serializes Create, Delete, Restore and recovery, and is held across
  // their disk work; lookups never take it.
  absl::Mutex write_mu_;
  // The name -> model map, immutable once published: Get and List are one
  // atomic load, so they never wait behind a writer's fsyncs.
  std::atomic<std::shared_ptr<const ModelMap>> models_{
      std::make_shared<const ModelMap>()};
};

// What a checkpoint of `learner` holds: its latest published champion with
// the challengers published with it.
std::shared_ptr<const PublishedSlot> PublishedState(const Learner& learner);

// OK if `name` is a valid model name (ValidateName).
absl::Status ValidateModelName(absl::string_view name);

// OK if a state with `config` has `model`'s shape (SameShape) or
// `allow_reshape`; FAILED_PRECONDITION naming both shapes otherwise.
absl::Status CheckReshape(const LiveModel& model, const ModelConfig& config,
                          bool allow_reshape);

}  // namespace streamfit

#endif  // STREAMFIT_SERVER_MODEL_REGISTRY_H_
