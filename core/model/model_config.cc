#include "core/model/model_config.h"

#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/model/kalman_companion.h"
#include "core/model/least_squares_companion.h"
#include "core/model/rules/rls.h"

namespace streamfit {
namespace {

// Defaults, chosen on the shared datasets (docs/LEARNING.md) to learn well on
// raw features without tuning.
constexpr double kDefaultPowerT = 0.25;
constexpr double kDefaultL2 = 1e-6;
// Small enough to leave any least-squares fit of real data unchanged, large
// enough that P = I / ridge stays far from overflow.
constexpr double kDefaultRlsRidge = 1e-6;

// FTRL's alpha when it is the default rule of a binary classifier without
// dense features.
constexpr double kSparseFtrlAlpha = 0.2;

double DefaultLearningRate(Optimizer optimizer) {
  switch (optimizer) {
    case Optimizer::kSgd:
      return 0.1;
    case Optimizer::kAdagrad:
      return 0.5;
    case Optimizer::kFtrl:
      return 0.1;  // alpha
    case Optimizer::kAdam:
      return 0.01;
    default:
      return 0.5;  // normalized, VW's default
  }
}

absl::Status CheckSetting(const char* name, const std::optional<double>& v) {
  if (v.has_value() && !(std::isfinite(*v) && *v >= 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.", name, " must be finite and >= 0, got ", *v));
  }
  return absl::OkStatus();
}

absl::Status CheckOpenUnit(const char* name, const std::optional<double>& v,
                           bool allow_zero) {
  if (v.has_value() &&
      !(std::isfinite(*v) && *v < 1 && (allow_zero ? *v >= 0 : *v > 0))) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.", name, " must be in ",
                     allow_zero ? "[0, 1)" : "(0, 1)", ", got ", *v));
  }
  return absl::OkStatus();
}

bool LossFitsTask(LossKind loss, Task task) {
  switch (loss) {
    case LossKind::kSquared:
    case LossKind::kHuber:
    case LossKind::kQuantile:
    case LossKind::kPoisson:
      return task == Task::kRegression;
    case LossKind::kLogistic:
    case LossKind::kHinge:
      return task == Task::kBinary;
    case LossKind::kSoftmax:
      return task == Task::kMulticlass;
    case LossKind::kUnspecified:
      break;
  }
  return true;
}

LossKind DefaultLoss(Task task) {
  switch (task) {
    case Task::kBinary:
      return LossKind::kLogistic;
    case Task::kMulticlass:
      return LossKind::kSoftmax;
    default:
      return LossKind::kSquared;
  }
}

// The enums arrive as integers from the wire: anything past the last
// enumerator is refused, naming the field.
absl::Status CheckEnums(const ModelConfig& config) {
  const struct {
    const char* name;
    int value;
    int max;
  } fields[] = {
      {"task", static_cast<int>(config.task),
       static_cast<int>(Task::kMulticlass)},
      {"optimizer", static_cast<int>(config.optimizer),
       static_cast<int>(Optimizer::kRls)},
      {"loss", static_cast<int>(config.loss),
       static_cast<int>(LossKind::kSoftmax)},
      {"schedule", static_cast<int>(config.schedule),
       static_cast<int>(Schedule::kInvScaling)},
  };
  for (const auto& f : fields) {
    if (f.value < 0 || f.value > f.max) {
      return absl::InvalidArgumentError(
          absl::StrCat("config.", f.name, " ", f.value, " is not one of 0..",
                       f.max, " (see streamfit.proto)"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckShape(const ModelConfig& config) {
  if (auto s = CheckEnums(config); !s.ok()) return s;
  if (config.task == Task::kUnspecified) {
    return absl::InvalidArgumentError("config.task must be set");
  }
  const bool sparse_only = config.num_features == 0 && config.hash_bits > 0;
  if ((config.num_features < 1 && !sparse_only) ||
      config.num_features > kMaxFeatures) {
    return absl::InvalidArgumentError(absl::StrCat(
        "config.num_features must be in [1, ", kMaxFeatures,
        "] (or 0 with hash_bits set, for sparse inputs only), got ",
        config.num_features));
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
  if (config.hash_bits > kMaxHashBits) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.hash_bits must be at most ", kMaxHashBits,
                     ", got ", config.hash_bits));
  }
  if ((uint64_t{NumOutputs(config)} << config.hash_bits) >
      kMaxSparseCoordinates) {
    return absl::InvalidArgumentError(absl::StrCat(
        "config.hash_bits ", config.hash_bits, " with ", NumOutputs(config),
        " outputs exceeds ", kMaxSparseCoordinates, " weights"));
  }
  if (config.interactions.size() > kMaxInteractions) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.interactions has ", config.interactions.size(),
                     " pairs, the limit is ", kMaxInteractions));
  }
  for (size_t i = 0; i < config.interactions.size(); ++i) {
    const auto& [a, b] = config.interactions[i];
    if (a.size() > kMaxNamespaceBytes || b.size() > kMaxNamespaceBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("config.interactions[", i, "] names a namespace over ",
                       kMaxNamespaceBytes, " bytes"));
    }
  }
  if (!config.class_weights.empty()) {
    if (config.task == Task::kRegression ||
        config.class_weights.size() !=
            (config.task == Task::kBinary ? 2u : config.num_classes)) {
      return absl::InvalidArgumentError(
          "config.class_weights must have one entry per class (2 for binary; "
          "none for regression)");
    }
    for (size_t k = 0; k < config.class_weights.size(); ++k) {
      const double w = config.class_weights[k];
      if (!(std::isfinite(w) && w >= 0)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "config.class_weights[", k, "] must be finite and >= 0"));
      }
    }
  }
  return absl::OkStatus();
}

// What the rls rule fits: squared loss on dense features, a few hundred at
// most, with nothing hashed.
absl::Status CheckRls(const ModelConfig& config) {
  if (config.optimizer != Optimizer::kRls) {
    if (config.rls_ridge || config.rls_forgetting) {
      return absl::InvalidArgumentError(
          "config.rls_ridge and rls_forgetting are for optimizer rls only");
    }
    return absl::OkStatus();
  }
  if (config.task != Task::kRegression ||
      (config.loss != LossKind::kUnspecified &&
       config.loss != LossKind::kSquared)) {
    return absl::InvalidArgumentError(
        "config.optimizer rls fits regression with squared loss only");
  }
  if (config.num_features < 1 || config.num_features > RlsState::kMaxFeatures) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.optimizer rls takes 1 to ", RlsState::kMaxFeatures,
                     " dense features (its state is quadratic in them), got ",
                     config.num_features));
  }
  if (!config.interactions.empty()) {
    return absl::InvalidArgumentError(
        "config.interactions: optimizer rls takes dense features only");
  }
  if (config.rls_ridge && !(*config.rls_ridge >= kMinRlsRidge &&
                            *config.rls_ridge <= kMaxRlsRidge)) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.rls_ridge must be in [", kMinRlsRidge, ", ",
                     kMaxRlsRidge, "], got ", *config.rls_ridge));
  }
  if (config.rls_forgetting && !(*config.rls_forgetting >= kMinRlsForgetting &&
                                 *config.rls_forgetting <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.rls_forgetting must be in [", kMinRlsForgetting,
                     ", 1], got ", *config.rls_forgetting));
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

absl::string_view OptimizerName(Optimizer optimizer) {
  switch (optimizer) {
    case Optimizer::kSgd:
      return "sgd";
    case Optimizer::kAdagrad:
      return "adagrad";
    case Optimizer::kFtrl:
      return "ftrl";
    case Optimizer::kAdam:
      return "adam";
    case Optimizer::kNormalized:
      return "normalized";
    case Optimizer::kRls:
      return "rls";
    case Optimizer::kUnspecified:
      break;
  }
  return "unspecified";
}

absl::string_view LossName(LossKind loss) {
  switch (loss) {
    case LossKind::kSquared:
      return "squared";
    case LossKind::kHuber:
      return "huber";
    case LossKind::kQuantile:
      return "quantile";
    case LossKind::kPoisson:
      return "poisson";
    case LossKind::kLogistic:
      return "logistic";
    case LossKind::kHinge:
      return "hinge";
    case LossKind::kSoftmax:
      return "softmax";
    case LossKind::kUnspecified:
      break;
  }
  return "unspecified";
}

uint64_t ModelStateBytes(const ModelConfig& config) {
  const uint64_t outputs = NumOutputs(config), d = config.num_features;
  const uint64_t rls =
      config.optimizer == Optimizer::kRls ? 2 * (d + 1) * (d + 1) : 0;
  const uint64_t slots = uint64_t{1} << config.hash_bits;
  const uint64_t averaging =
      Averages(config) ? outputs * (d + 1) + outputs * slots : 0;
  const uint64_t values = 3 * outputs * (d + 1) + 3 * outputs * slots + 3 * d +
                          rls + averaging +
                          LeastSquaresCompanion::StateValues(config) +
                          KalmanCompanion::StateValues(config);
  return 8 * values;
}

bool SameShape(const ModelConfig& a, const ModelConfig& b) {
  return a.task == b.task && a.num_features == b.num_features &&
         a.num_classes == b.num_classes && a.hash_bits == b.hash_bits &&
         a.interactions == b.interactions;
}

std::string DescribeShape(const ModelConfig& config) {
  std::string out = absl::StrCat(TaskName(config.task));
  if (config.task == Task::kMulticlass) {
    absl::StrAppend(&out, " (", config.num_classes, " classes)");
  }
  absl::StrAppend(&out, ", ", config.num_features, " features, hash_bits ",
                  config.hash_bits, ", ");
  if (config.interactions.empty()) {
    absl::StrAppend(&out, "no interactions");
  } else {
    absl::StrAppend(&out, "interactions");
    for (const auto& [a, b] : config.interactions) {
      absl::StrAppend(&out, " '", a, "'x'", b, "'");
    }
  }
  return out;
}

absl::StatusOr<ModelConfig> WithDefaults(ModelConfig config) {
  if (auto s = CheckShape(config); !s.ok()) return s;
  for (const auto& [name, v] :
       {std::pair<const char*, const std::optional<double>&>{
            "learning_rate", config.learning_rate},
        {"power_t", config.power_t},
        {"l1", config.l1},
        {"l2", config.l2},
        {"ftrl_beta", config.ftrl_beta},
        {"huber_delta", config.huber_delta},
        {"max_gradient", config.max_gradient}}) {
    if (auto s = CheckSetting(name, v); !s.ok()) return s;
  }
  if (auto s = CheckOpenUnit("adam_beta1", config.adam_beta1, true); !s.ok()) {
    return s;
  }
  if (auto s = CheckOpenUnit("adam_beta2", config.adam_beta2, true); !s.ok()) {
    return s;
  }
  if (auto s = CheckOpenUnit("quantile_tau", config.quantile_tau, false);
      !s.ok()) {
    return s;
  }
  if (config.learning_rate == 0.0) {
    return absl::InvalidArgumentError("config.learning_rate must be > 0");
  }
  if (config.huber_delta == 0.0) {
    return absl::InvalidArgumentError("config.huber_delta must be > 0");
  }
  if (auto s = CheckRls(config); !s.ok()) return s;
  if (!LossFitsTask(config.loss, config.task)) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.loss ", LossName(config.loss), " does not fit ",
                     TaskName(config.task)));
  }
  if (static_cast<int>(config.drift_detector) < 0 ||
      config.drift_detector > DriftDetectorKind::kPageHinkley) {
    return absl::InvalidArgumentError(absl::StrCat(
        "config.drift_detector ", static_cast<int>(config.drift_detector),
        " is not a detector"));
  }
  if (static_cast<int>(config.drift_policy) < 0 ||
      config.drift_policy > DriftPolicy::kRetrain) {
    return absl::InvalidArgumentError(absl::StrCat(
        "config.drift_policy ", static_cast<int>(config.drift_policy),
        " is not a policy"));
  }
  if (static_cast<int>(config.serving) < 0 ||
      config.serving > Serving::kAveraged) {
    return absl::InvalidArgumentError(
        absl::StrCat("config.serving ", static_cast<int>(config.serving),
                     " is not a serving"));
  }
  if (config.optimizer == Optimizer::kRls &&
      config.serving == Serving::kAveraged) {
    return absl::InvalidArgumentError(
        "config.serving averaged does not apply to rls, whose weights are "
        "already the exact least-squares fit");
  }
  const double ratio = config.policies.batch_gap_retrain_ratio;
  if (!std::isfinite(ratio) || (ratio != 0 && ratio < 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "config.policies.batch_gap_retrain_ratio must be 0 (never) or a "
        "finite ratio >= 1, got ",
        ratio));
  }
  const double confidence = config.policies.promote_confidence;
  if (!(confidence == 0 || (confidence >= 0.5 && confidence < 1))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "config.policies.promote_confidence must be 0 (never) or in "
        "[0.5, 1), got ",
        confidence));
  }
  if (config.policies.promote_window > kMaxPromoteWindow) {
    return absl::InvalidArgumentError(absl::StrCat(
        "config.policies.promote_window must be at most ", kMaxPromoteWindow,
        ", got ", config.policies.promote_window));
  }
  if (config.policies.promote_window == 0) {
    config.policies.promote_window = kDefaultRecentSamples;
  }
  if (config.policies.retrain_samples == 0) {
    config.policies.retrain_samples = kDefaultRecentSamples;
  }
  if (config.policies.batch_gap_window == 0) {
    config.policies.batch_gap_window = kDefaultRecentSamples;
  }
  if (config.drift_detector == DriftDetectorKind::kUnspecified) {
    config.drift_detector = DriftDetectorKind::kAdwin;
  }
  if (config.drift_policy == DriftPolicy::kUnspecified) {
    config.drift_policy = DriftPolicy::kAlert;
  }
  if (config.optimizer == Optimizer::kUnspecified) {
    // A binary classifier of hashed features alone learns best by
    // FTRL-Proximal, at twice its usual rate (docs/LEARNING.md, "Sparse
    // streams"); the normalized rule's invariance to each feature's scale is
    // for dense features of unequal scales.
    if (config.num_features == 0 && config.task == Task::kBinary) {
      config.optimizer = Optimizer::kFtrl;
      if (!config.learning_rate) config.learning_rate = kSparseFtrlAlpha;
    } else {
      config.optimizer = Optimizer::kNormalized;
    }
  }
  if (config.loss == LossKind::kUnspecified) {
    config.loss = DefaultLoss(config.task);
  }
  if (config.schedule == Schedule::kUnspecified) {
    config.schedule = Schedule::kInvScaling;
  }
  if (config.hash_bits == 0) {
    // 18, or fewer if the outputs would exceed kDefaultSparseCoordinates.
    config.hash_bits = kDefaultHashBits;
    while ((uint64_t{NumOutputs(config)} << config.hash_bits) >
               kDefaultSparseCoordinates &&
           config.hash_bits > 1) {
      --config.hash_bits;
    }
  }
  if (!config.learning_rate) {
    config.learning_rate = DefaultLearningRate(config.optimizer);
  }
  if (!config.power_t) config.power_t = kDefaultPowerT;
  if (!config.l1) config.l1 = 0;
  if (!config.l2) config.l2 = kDefaultL2;
  if (!config.ftrl_beta) config.ftrl_beta = 1;
  if (!config.adam_beta1) config.adam_beta1 = 0.9;
  if (!config.adam_beta2) config.adam_beta2 = 0.999;
  if (!config.huber_delta) config.huber_delta = 1;
  if (!config.quantile_tau) config.quantile_tau = 0.5;
  if (!config.max_gradient) config.max_gradient = 0;
  if (config.serving == Serving::kUnspecified) {
    config.serving = Serving::kAuto;
  }
  if (config.optimizer == Optimizer::kRls) {
    // Exact least squares: the average of its iterates would only lag the
    // fit.
    config.serving = Serving::kLive;
    config.standardize = false;
    if (!config.rls_ridge) config.rls_ridge = kDefaultRlsRidge;
    if (!config.rls_forgetting) config.rls_forgetting = 1;
  }
  return config;
}

}  // namespace streamfit
