#include "server/model_registry.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "core/status_macros.h"
#include "server/model_store.h"
#include "server/names.h"
#include "server/snapshot_codec.h"

namespace streamfit {
namespace {

// How long a Restore waits for the replaced model to apply what it admitted,
// so that its lifetime metrics count those samples.
constexpr absl::Duration kCatchUpWait = absl::Seconds(5);

// The state of `learner` once every sample admitted so far is applied and
// published, or after `timeout` the newest published one.
std::shared_ptr<const LinearModel> CaughtUpState(Learner& learner,
                                                 absl::Duration timeout) {
  struct Result {
    absl::Notification done;
    std::shared_ptr<const LinearModel> state;  // written before done
  };
  auto result = std::make_shared<Result>();
  const uint64_t id = learner.WhenVersion(
      learner.AdmittedVersion(),
      [result](absl::StatusOr<std::shared_ptr<const LinearModel>> state) {
        if (state.ok()) result->state = *std::move(state);
        result->done.Notify();
      });
  if (!result->done.WaitForNotificationWithTimeout(timeout) &&
      learner.CancelWait(id)) {
    return learner.Current();
  }
  result->done.WaitForNotification();  // ran, or is running
  return result->state != nullptr ? result->state : learner.Current();
}

}  // namespace

absl::Status ValidateModelName(absl::string_view name) {
  return ValidateName("model name", name);
}

absl::Status LiveModel::CheckNotFailed() const {
  if (failure.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("model '", name, "' is failed (", failure,
                   "); it serves predictions from its last good state; "
                   "Restore a snapshot into it or delete it"));
}

Lineage LiveModel::GetLineage() const {
  absl::MutexLock lock(&lineage_mu_);
  return lineage_;
}

void LiveModel::SetLineage(Lineage lineage) {
  absl::MutexLock lock(&lineage_mu_);
  lineage_ = std::move(lineage);
}

std::optional<v1::BatchGap> LiveModel::GetBatchGap() const {
  absl::MutexLock lock(&lineage_mu_);
  return batch_gap_;
}

void LiveModel::SetBatchGap(v1::BatchGap gap) {
  absl::MutexLock lock(&lineage_mu_);
  batch_gap_ = std::move(gap);
}

absl::Status CheckReshape(const LiveModel& model, const ModelConfig& config,
                          bool allow_reshape) {
  if (allow_reshape || SameShape(model.config, config)) {
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(
      absl::StrCat("the snapshot is ", DescribeShape(config), "; model '",
                   model.name, "' is ", DescribeShape(model.config),
                   "; set allow_reshape to replace the model's shape"));
}

absl::Status ModelRegistry::CheckModelSize(const ModelConfig& config) const {
  const uint64_t bytes = ModelStateBytes(config);
  if (bytes > limits_.max_model_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("a model of ", DescribeShape(config), " needs ", bytes,
                     " bytes of state, over the server's limit of ",
                     limits_.max_model_bytes, " (--max_model_bytes)"));
  }
  if (SnapshotBytesBound(config) > kMaxSnapshotBytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("a model of ", DescribeShape(config),
                     " has snapshots of up to ", SnapshotBytesBound(config),
                     " bytes, over the limit of ", kMaxSnapshotBytes));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<LiveModel>> ModelRegistry::Create(
    absl::string_view name, const ModelConfig& config) {
  RETURN_IF_ERROR(ValidateModelName(name));
  ASSIGN_OR_RETURN(const ModelConfig full, WithDefaults(config));
  RETURN_IF_ERROR(CheckModelSize(full));
  if (models_.load(std::memory_order_acquire)->contains(name)) {
    return absl::AlreadyExistsError(
        absl::StrCat("model '", name, "' already exists"));
  }
  ASSIGN_OR_RETURN(LinearModel initial, LinearModel::Create(full));
  return CreateWithState(name, initial);
}

absl::StatusOr<std::shared_ptr<LiveModel>> ModelRegistry::CreateWithState(
    absl::string_view name, const LinearModel& initial) {
  RETURN_IF_ERROR(ValidateModelName(name));
  RETURN_IF_ERROR(CheckModelSize(initial.config()));
  absl::MutexLock lock(&write_mu_);
  const std::shared_ptr<const ModelMap> current =
      models_.load(std::memory_order_acquire);
  if (current->contains(name)) {
    return absl::AlreadyExistsError(
        absl::StrCat("model '", name, "' already exists"));
  }
  if (current->size() >= limits_.max_models) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the server holds ", current->size(),
                     " models, its limit (--max_models)"));
  }
  std::shared_ptr<LiveModel> model;
  Lineage lineage = CreatedLineage(absl::ToUnixMillis(absl::Now()));
  if (store_ != nullptr) {
    ASSIGN_OR_RETURN(model,
                     store_->Replace(std::string(name), initial, lineage));
  } else {
    model = std::make_shared<LiveModel>(std::string(name), initial,
                                        learner_options_);
    model->SetLineage(std::move(lineage));
  }
  ModelMap next = *models_.load(std::memory_order_acquire);
  next.emplace(std::string(name), model);
  Publish(std::move(next));
  return model;
}

absl::StatusOr<std::shared_ptr<LiveModel>> ModelRegistry::Get(
    absl::string_view name) const {
  if (name.empty()) return absl::InvalidArgumentError("model name is empty");
  const std::shared_ptr<const ModelMap> models =
      models_.load(std::memory_order_acquire);
  auto it = models->find(name);
  if (it == models->end()) {
    return absl::NotFoundError(absl::StrCat("model '", name, "' not found"));
  }
  return it->second;
}

std::vector<std::shared_ptr<LiveModel>> ModelRegistry::List() const {
  const std::shared_ptr<const ModelMap> models =
      models_.load(std::memory_order_acquire);
  std::vector<std::shared_ptr<LiveModel>> out;
  for (const auto& [name, model] : *models) out.push_back(model);
  return out;
}

absl::Status ModelRegistry::Delete(absl::string_view name) {
  std::shared_ptr<LiveModel> model;
  {
    absl::MutexLock lock(&write_mu_);
    ModelMap next = *models_.load(std::memory_order_acquire);
    auto it = next.find(name);
    if (it == next.end()) {
      return absl::NotFoundError(absl::StrCat("model '", name, "' not found"));
    }
    if (store_ != nullptr) RETURN_IF_ERROR(store_->Delete(it->first));
    model = std::move(it->second);
    next.erase(it);
    Publish(std::move(next));
  }
  model->learner.Stop();
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<LiveModel>> ModelRegistry::Restore(
    absl::string_view name, const LinearModel& state, bool allow_reshape,
    const RestoreOrigin& origin) {
  RETURN_IF_ERROR(ValidateModelName(name));
  RETURN_IF_ERROR(CheckModelSize(state.config()));
  // Outside write_mu_: the wait must not hold up other models' writes.
  std::shared_ptr<LiveModel> waited;
  std::shared_ptr<const LinearModel> caught_up;
  if (absl::StatusOr<std::shared_ptr<LiveModel>> live = Get(name); live.ok()) {
    waited = *std::move(live);
    caught_up = CaughtUpState(waited->learner, kCatchUpWait);
  }
  std::shared_ptr<LiveModel> old;
  std::shared_ptr<LiveModel> model;
  {
    absl::MutexLock lock(&write_mu_);
    ModelMap next = *models_.load(std::memory_order_acquire);
    auto it = next.find(name);
    if (it == next.end()) {
      return absl::NotFoundError(absl::StrCat("model '", name, "' not found"));
    }
    RETURN_IF_ERROR(CheckReshape(*it->second, state.config(), allow_reshape));
    const std::shared_ptr<const LinearModel> replaced =
        it->second == waited ? caught_up : it->second->learner.Current();
    Lineage lineage = AppendLineage(
        it->second->GetLineage(),
        RestoredEvent(origin, state.version(), state.metrics(),
                      replaced->version(), absl::ToUnixMillis(absl::Now())),
        replaced->metrics());
    if (store_ != nullptr) {
      ASSIGN_OR_RETURN(model, store_->Replace(it->first, state, lineage));
    } else {
      model = std::make_shared<LiveModel>(it->first, state, learner_options_);
      model->SetLineage(std::move(lineage));
    }
    old = std::exchange(it->second, model);
    Publish(std::move(next));
  }
  old->learner.Stop();
  if (store_ != nullptr) store_->RemoveIncarnation(old->dir);
  return model;
}

absl::Status ModelRegistry::RecoverFromStore() {
  if (store_ == nullptr) return absl::OkStatus();
  ASSIGN_OR_RETURN(auto models, store_->RecoverAll());
  absl::MutexLock lock(&write_mu_);
  ModelMap next = *models_.load(std::memory_order_acquire);
  for (auto& model : models) next[model->name] = std::move(model);
  Publish(std::move(next));
  return absl::OkStatus();
}

void ModelRegistry::Publish(ModelMap next) {
  models_.store(std::make_shared<const ModelMap>(std::move(next)),
                std::memory_order_release);
}

void ModelRegistry::StopAll() {
  for (const auto& model : List()) model->learner.Stop();
}

absl::Status ModelRegistry::RecordSwap(LiveModel& model,
                                       const SwapRecord& swap) {
  return RecordInstall(model, swap.state,
                       RetrainedEvent(swap, absl::ToUnixMillis(absl::Now())),
                       swap.replaced);
}

absl::Status ModelRegistry::RecordPromotion(LiveModel& model,
                                            const Promotion& promotion) {
  return RecordInstall(
      model, promotion.state,
      PromotedEvent(promotion, absl::ToUnixMillis(absl::Now())),
      promotion.replaced);
}

absl::Status ModelRegistry::RecordInstall(
    LiveModel& model, std::shared_ptr<const PublishedSlot> state,
    v1::ModelLineage event, const MetricsSummary& replaced) {
  if (store_ != nullptr) {
    RETURN_IF_ERROR(
        store_->Checkpoint(model, ModelStore::When::kAlways, std::move(state)));
  }
  absl::MutexLock lock(&write_mu_);
  const std::shared_ptr<const ModelMap> models =
      models_.load(std::memory_order_acquire);
  auto it = models->find(model.name);
  if (it == models->end() || it->second.get() != &model) {
    return absl::OkStatus();  // deleted or restored since: its lineage ended
  }
  Lineage lineage =
      AppendLineage(model.GetLineage(), std::move(event), replaced);
  if (store_ != nullptr) {
    RETURN_IF_ERROR(store_->SaveLineage(model.name, model.dir, lineage));
  }
  model.SetLineage(std::move(lineage));
  return absl::OkStatus();
}

std::shared_ptr<const PublishedSlot> PublishedState(const Learner& learner) {
  if (std::shared_ptr<const PublishedSlot> slot = learner.CurrentSlot()) {
    return slot;
  }
  auto alone = std::make_shared<PublishedSlot>();
  alone->champion = learner.Current();
  return alone;
}

}  // namespace streamfit
