#include "core/model_config.h"

#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace streamfit {
namespace {

// Defaults, chosen on the shared datasets (docs/LEARNING.md) to learn well on
// raw features without tuning.
constexpr double kDefaultLearningRate = 0.1;
constexpr double kDefaultPowerT = 0.25;
constexpr double kDefaultL2 = 1e-6;

absl::Status CheckSetting(const char* name, const std::optional<double>& v) {
  if (v.has_value() && !(std::isfinite(*v) && *v >= 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.", name, " must be finite and >= 0, got ", *v));
  }
  return absl::OkStatus();
}

}  // namespace

absl::string_view TaskName(Task task) {
  switch (task) {
    case Task::kRegression:
      return "regression";
    case Task::kBinary:
      return "binary";
    case Task::kMulticlass:
      return "multiclass";
    case Task::kUnspecified:
      break;
  }
  return "unspecified";
}

absl::StatusOr<ModelConfig> WithDefaults(ModelConfig config) {
  if (config.task == Task::kUnspecified) {
    return absl::InvalidArgumentError("config.task must be set");
  }
  if (config.num_features < 1 || config.num_features > kMaxFeatures) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.num_features must be in [1, ", kMaxFeatures,
                     "], got ", config.num_features));
  }
  if (config.task == Task::kMulticlass) {
    if (config.num_classes < 2 || config.num_classes > kMaxClasses) {
      return absl::InvalidArgumentError(
          absl::StrCat("config.num_classes must be in [2, ", kMaxClasses,
                       "] for multiclass, got ", config.num_classes));
    }
  } else if (config.num_classes != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.num_classes is only for multiclass, got ",
                     config.num_classes, " for ", TaskName(config.task)));
  }
  if (auto s = CheckSetting("learning_rate", config.learning_rate); !s.ok()) {
    return s;
  }
  if (auto s = CheckSetting("power_t", config.power_t); !s.ok()) return s;
  if (auto s = CheckSetting("l2", config.l2); !s.ok()) return s;
  if (config.learning_rate == 0.0) {
    return absl::InvalidArgumentError("config.learning_rate must be > 0");
  }
  if (config.schedule == Schedule::kUnspecified) {
    config.schedule = Schedule::kInvScaling;
  }
  if (!config.learning_rate) config.learning_rate = kDefaultLearningRate;
  if (!config.power_t) config.power_t = kDefaultPowerT;
  if (!config.l2) config.l2 = kDefaultL2;
  return config;
}

}  // namespace streamfit
