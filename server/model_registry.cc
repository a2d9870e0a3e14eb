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
  absl::MutexLock lock(&mu_);
  if (models_.contains(name)) {
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
  models_.emplace(std::string(name), model);
  return model;
}

absl::StatusOr<std::shared_ptr<LiveModel>> ModelRegistry::Get(
    absl::string_view name) const {
  if (name.empty()) return absl::InvalidArgumentError("model name is empty");
  absl::MutexLock lock(&mu_);
  auto it = models_.find(name);
  if (it == models_.end()) {
    return absl::NotFoundError(absl::StrCat("model '", name, "' not found"));
  }
  return it->second;
}

std::vector<std::shared_ptr<LiveModel>> ModelRegistry::List() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::shared_ptr<LiveModel>> out;
  for (const auto& [name, model] : models_) out.push_back(model);
  return out;
}

absl::Status ModelRegistry::Delete(absl::string_view name) {
  std::shared_ptr<LiveModel> model;
  {
    absl::MutexLock lock(&mu_);
    auto it = models_.find(name);
    if (it == models_.end()) {
      return absl::NotFoundError(absl::StrCat("model '", name, "' not found"));
    }
    if (store_ != nullptr) RETURN_IF_ERROR(store_->Delete(it->first));
    model = std::move(it->second);
    models_.erase(it);
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
    absl::MutexLock lock(&mu_);
    auto it = models_.find(name);
    if (it == models_.end()) {
      return absl::NotFoundError(absl::StrCat("model '", name, "' not found"));
    }
    if (store_ != nullptr) {
      ASSIGN_OR_RETURN(model, store_->Replace(it->first, state));
    } else {
      model = std::make_shared<LiveModel>(it->first, state, learner_options_);
    }
    old = std::exchange(it->second, model);
  }
  old->learner.Stop();
  if (store_ != nullptr) store_->RemoveIncarnation(old->dir);
  return model;
}

absl::Status ModelRegistry::RecoverFromStore() {
  if (store_ == nullptr) return absl::OkStatus();
  ASSIGN_OR_RETURN(auto models, store_->RecoverAll());
  absl::MutexLock lock(&mu_);
  for (auto& model : models) models_[model->name] = std::move(model);
  return absl::OkStatus();
}

void ModelRegistry::StopAll() {
  for (const auto& model : List()) model->learner.Stop();
}

absl::Status ModelRegistry::Persist(LiveModel& model) {
  if (store_ == nullptr) return absl::OkStatus();
  return store_->Checkpoint(model, ModelStore::When::kAlways);
}

}  // namespace streamfit
