#include "server/model_registry.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/status_macros.h"

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
  auto model =
      std::make_shared<LiveModel>(std::string(name), initial, learner_options_);
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
    model = std::move(it->second);
    models_.erase(it);
  }
  model->learner.Stop();
  return absl::OkStatus();
}

void ModelRegistry::StopAll() {
  for (const auto& model : List()) model->learner.Stop();
}

}  // namespace streamfit
