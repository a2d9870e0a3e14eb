// What a model learns and how: task, input shape, loss, update rule and
// regularization.
#ifndef STREAMFIT_CORE_MODEL_MODEL_CONFIG_H_
#define STREAMFIT_CORE_MODEL_MODEL_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace streamfit {

enum class Task { kUnspecified, kRegression, kBinary, kMulticlass };

enum class Schedule {
  kUnspecified,
  kConstant,    // eta_t = eta0
  kInvScaling,  // eta_t = eta0 / t^power_t, t = 1, 2, ...
};

// The per-coordinate update rule (docs/LEARNING.md gives each formula).
enum class Optimizer {
  kUnspecified,
  kSgd,
  kAdagrad,
  kFtrl,
  kAdam,
  kNormalized,  // the default
  kRls,         // exact least squares, dense regression (rules/rls.h)
};

// The training loss. Unspecified means the task's default: squared,
// logistic, softmax.
enum class LossKind {
  kUnspecified,
  kSquared,
  kHuber,
  kQuantile,
  kPoisson,
  kLogistic,
  kHinge,
  kSoftmax,
};

// What watches the progressive loss for a rise (docs/LEARNING.md, "Drift
// detection"); unspecified means ADWIN.
enum class DriftDetectorKind { kUnspecified, kNone, kAdwin, kPageHinkley };

// What a detected drift does: alert (count and report it, the default),
// reset (also forget the update rule's per-coordinate state, keeping the
// weights, so that the model adapts as fast as a new one) or retrain (also
// start the retrain of ModelPolicies; the service's work, not the model's).
enum class DriftPolicy { kUnspecified, kAlert, kReset, kRetrain };

// What the service does on its own for a model (retrains, gap
// measurements); the model only carries them. Zeros mean the defaults
// WithDefaults fills in, or "never".
struct ModelPolicies {
  uint64_t retrain_samples = 0;        // WithDefaults: kDefaultRecentSamples
  std::string retrain_dataset;         // set: retrain from it instead
  uint64_t batch_gap_every = 0;        // 0: never
  uint64_t batch_gap_window = 0;       // WithDefaults: kDefaultRecentSamples
  double batch_gap_retrain_ratio = 0;  // 0: never; else >= 1
  // Promote a challenger whose loss over the last `promote_window` samples
  // is lower than the champion's with this one-sided confidence (0: never;
  // else in [0.5, 1)); ModelSlot decides it (core/model/model_slot.h).
  double promote_confidence = 0;
  uint64_t promote_window = 0;  // WithDefaults: kDefaultRecentSamples

  friend bool operator==(const ModelPolicies&, const ModelPolicies&) = default;
};
// The recent samples a gap measurement or a policy retrain covers unless
// told otherwise.
inline constexpr uint64_t kDefaultRecentSamples = 10'000;
// The longest ModelPolicies.promote_window.
inline constexpr uint64_t kMaxPromoteWindow = uint64_t{1} << 17;

// Which weights Predict serves (docs/LEARNING.md, "Iterate averaging"):
// the live ones the update rule moves, their running average, or (auto, the
// default) whichever had the lower recent progressive loss. Unspecified
// means auto; the rls rule is exact and always serves live.
enum class Serving { kUnspecified, kAuto, kLive, kAveraged };

absl::string_view TaskName(Task task);
absl::string_view OptimizerName(Optimizer optimizer);
absl::string_view LossName(LossKind loss);

// A model's configuration. Unset optional fields take the documented defaults
// in `WithDefaults`. A plain value type.
struct ModelConfig {
  Task task = Task::kUnspecified;
  uint32_t num_features = 0;  // dense inputs; 0 only for sparse-only models
  uint32_t num_classes = 0;   // multiclass only

  Optimizer optimizer = Optimizer::kUnspecified;
  LossKind loss = LossKind::kUnspecified;
  Schedule schedule = Schedule::kUnspecified;  // sgd only
  std::optional<double> learning_rate;         // eta0; ftrl: alpha
  std::optional<double> power_t;               // sgd invscaling exponent
  std::optional<double> l1;
  std::optional<double> l2;
  std::optional<double> ftrl_beta;
  std::optional<double> adam_beta1;
  std::optional<double> adam_beta2;
  std::optional<double> huber_delta;   // huber only (standardized units)
  std::optional<double> quantile_tau;  // quantile only, in (0, 1)
  // |d loss / d score| is clipped to this; 0 = no clipping.
  std::optional<double> max_gradient;
  // rls only: the ridge prior, in [kMinRlsRidge, kMaxRlsRidge], and the
  // forgetting factor, in [kMinRlsForgetting, 1].
  std::optional<double> rls_ridge;
  std::optional<double> rls_forgetting;
  // Dense features are standardized (always off for rls, which is exact
  // least squares on the raw features: scaling them changes nothing).
  bool standardize = true;

  // Sparse and named features are hashed into 2^hash_bits slots (0 = the
  // default, 18, or less for so many classes that the table would exceed
  // kDefaultSparseCoordinates).
  uint32_t hash_bits = 0;
  // Quadratic interactions between namespaces, by name ("" = the namespace
  // of index features).
  std::vector<std::pair<std::string, std::string>> interactions;
  // Classification: per-class multipliers of the importance weight (empty =
  // all 1).
  std::vector<double> class_weights;
  DriftDetectorKind drift_detector = DriftDetectorKind::kUnspecified;
  DriftPolicy drift_policy = DriftPolicy::kUnspecified;
  Serving serving = Serving::kUnspecified;
  ModelPolicies policies;

  friend bool operator==(const ModelConfig&, const ModelConfig&) = default;
};

// Whether the model keeps averaged weights beside the live ones (config
// after WithDefaults): every serving but live.
inline bool Averages(const ModelConfig& config) {
  return config.serving == Serving::kAuto ||
         config.serving == Serving::kAveraged;
}

// Checks `config` (task set, sizes, finite non-negative settings) and returns
// it with every default filled in. INVALID_ARGUMENT names the bad field.
absl::StatusOr<ModelConfig> WithDefaults(ModelConfig config);

// Number of linear outputs: 1 for regression and binary, num_classes else.
inline uint32_t NumOutputs(const ModelConfig& config) {
  return config.task == Task::kMulticlass ? config.num_classes : 1;
}

// The range of rls's settings. The prior decays by the forgetting factor
// per sample between refactorizations, and 0.99^1024 keeps P within
// 1e5 / ridge; with the ridge's bounds P stays below about 1e17 and A
// (sums of h x x^T within 1e54 each) far from overflow.
inline constexpr double kMinRlsForgetting = 0.99;
inline constexpr double kMinRlsRidge = 1e-12;
inline constexpr double kMaxRlsRidge = 1e12;

// Upper bounds that keep a model's memory reasonable.
inline constexpr uint32_t kMaxFeatures = 1 << 20;
inline constexpr uint32_t kMaxClasses = 1 << 12;
inline constexpr uint32_t kDefaultHashBits = 18;
inline constexpr uint32_t kMaxHashBits = 24;
// NumOutputs * 2^hash_bits may not exceed this many slots.
inline constexpr uint64_t kMaxSparseCoordinates = uint64_t{1} << 26;
// The default hash_bits keeps NumOutputs * 2^hash_bits within this.
inline constexpr uint64_t kDefaultSparseCoordinates = uint64_t{1} << 24;
// At most this many interaction pairs, of namespace names of at most
// kMaxNamespaceBytes bytes.
inline constexpr size_t kMaxInteractions = 256;
inline constexpr size_t kMaxNamespaceBytes = 256;

// An upper bound of the bytes of a model's state (config after
// WithDefaults): the dense planes (weight and two optimizer values per
// output and dense coordinate, bias included), the hashed table with every
// slot written (the same three per output), the per-feature statistics and
// rls's two (d + 1) x (d + 1) matrices, 8 bytes each. The server refuses models
// over --max_model_bytes by it.
uint64_t ModelStateBytes(const ModelConfig& config);

// Whether two configs describe the same model shape: task, dense features,
// classes, hash_bits and interactions (what a state's tensors are laid out
// by); and a description of a shape for messages, for example
// "binary, 30 features, hash_bits 18, no interactions".
bool SameShape(const ModelConfig& a, const ModelConfig& b);
std::string DescribeShape(const ModelConfig& config);

}  // namespace streamfit

#endif  // STREAMFIT_CORE_MODEL_MODEL_CONFIG_H_
