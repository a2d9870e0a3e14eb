// What a model learns and how: task, input shape and learning settings.
#ifndef STREAMFIT_CORE_MODEL_CONFIG_H_
#define STREAMFIT_CORE_MODEL_CONFIG_H_

#include <cstdint>
#include <optional>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace streamfit {

enum class Task { kUnspecified, kRegression, kBinary, kMulticlass };

enum class Schedule {
  kUnspecified,
  kConstant,    // eta_t = eta0
  kInvScaling,  // eta_t = eta0 / t^power_t, t = 1, 2, ...
};

absl::string_view TaskName(Task task);

// A model's configuration. Unset optional fields take the documented defaults
// in `WithDefaults`. A plain value type.
struct ModelConfig {
  Task task = Task::kUnspecified;
  uint32_t num_features = 0;
  uint32_t num_classes = 0;  // multiclass only

  Schedule schedule = Schedule::kUnspecified;
  std::optional<double> learning_rate;
  std::optional<double> power_t;
  std::optional<double> l2;
  bool standardize = true;

  friend bool operator==(const ModelConfig&, const ModelConfig&) = default;
};

// Checks `config` (task set, sizes, finite non-negative settings) and returns
// it with every default filled in. INVALID_ARGUMENT names the bad field.
absl::StatusOr<ModelConfig> WithDefaults(ModelConfig config);

// Number of linear outputs: 1 for regression and binary, num_classes else.
inline uint32_t NumOutputs(const ModelConfig& config) {
  return config.task == Task::kMulticlass ? config.num_classes : 1;
}

// Upper bounds that keep a model's memory reasonable.
inline constexpr uint32_t kMaxFeatures = 1 << 20;
inline constexpr uint32_t kMaxClasses = 1 << 12;

}  // namespace streamfit

#endif  // STREAMFIT_CORE_MODEL_CONFIG_H_
