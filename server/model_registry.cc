#include "server/model_registry.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "server/model_store.h"

namespace streamfit {

absl::Status ValidateModelName(absl::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("model name is empty");
  if (name.size() > 128) {
    return absl::InvalidArgumentError("model name is over 128 characters");
  }
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '-' && c != '.') {
      return absl::InvalidArgumentError(absl::StrCat(
          "model name '", name, "' may only hold letters, digits, _ - ."));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<LiveModel>> ModelRegistry::Create(
    absl::string_view name, const ModelConfig& config) {
  RETURN_IF_ERROR(ValidateModelName(name));
  ASSIGN_OR_RETURN(LinearModel initial, LinearModel::Create(config));
  absl::MutexLock lock(&write_mu_);
  if (models_.load(std::memory_order_acquire)->contains(name)) {
    return absl::AlreadyExistsError(
        absl::StrCat("model '", name, "' already exists"));
  }
  std::shared_ptr<LiveModel> model;
  if (store_ != nullptr) {
    ASSIGN_OR_RETURN(model, store_->Replace(std::string(name), initial));
  } else {
    model = std::make_shared<LiveModel>(std::string(name), initial,
                                        learner_options_);
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
    absl::string_view name, const LinearModel& state) {
  RETURN_IF_ERROR(ValidateModelName(name));
  std::shared_ptr<LiveModel> old;
  std::shared_ptr<LiveModel> model;
  {
    absl::MutexLock lock(&write_mu_);
    ModelMap next = *models_.load(std::memory_order_acquire);
    auto it = next.find(name);
    if (it == next.end()) {
      return absl::NotFoundError(absl::StrCat("model '", name, "' not found"));
    }
    if (store_ != nullptr) {
      ASSIGN_OR_RETURN(model, store_->Replace(it->first, state));
    } else {
      model = std::make_shared<LiveModel>(it->first, state, learner_options_);
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

absl::Status ModelRegistry::Persist(LiveModel& model) {
  if (store_ == nullptr) return absl::OkStatus();
  return store_->Checkpoint(model, ModelStore::When::kAlways);
}

}  // namespace streamfit
