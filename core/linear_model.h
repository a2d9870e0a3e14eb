// A linear model with bias for regression, binary or multiclass tasks,
// learned one example at a time by SGD on online-standardized features.
#ifndef STREAMFIT_CORE_LINEAR_MODEL_H_
#define STREAMFIT_CORE_LINEAR_MODEL_H_

#include <Eigen/Core>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/model_config.h"
#include "core/progressive_metrics.h"
#include "core/running_stats.h"

namespace streamfit {

// One model output. Regression: value is the estimate. Binary: value is
// P(label = 1). Multiclass: value is the most likely class and scores holds
// every class's probability.
struct Prediction {
  double value = 0;
  std::vector<double> scores;
};

// A named array of model state, row-major; used by snapshots.
struct NamedTensor {
  std::string name;
  std::vector<uint32_t> shape;
  std::vector<double> values;
};

// The model as a plain function of raw features: output k =
// bias[k] + sum_j weights(k, j) x[j] (the logit for binary, class scores for
// multiclass).
struct RawLinearFunction {
  Eigen::MatrixXd weights;  // outputs x features
  Eigen::VectorXd bias;
};

// The learning rule (docs/LEARNING.md). For each example (x, y, weight):
//   1. update the running feature statistics with x, z = standardize(x);
//   2. score s = W z + b and record the progressive metrics;
//   3. step eta_t (constant or eta0 / t^power_t), gradient g = dloss/ds;
//      W -= eta_t * weight * (g z^T + l2 W);  b -= eta_t * weight * g.
// Regression learns a standardized target: the estimate is
// mean_y + sd_y * s with running label statistics (updated after the step),
// so raw targets of any scale learn at the same pace.
// version() is the number of examples learned. A value type: copies are
// independent; not thread-safe (the Learner owns the only mutable copy).
class LinearModel {
 public:
  // INVALID_ARGUMENT if `config` is invalid (see WithDefaults).
  static absl::StatusOr<LinearModel> Create(const ModelConfig& config);

  // Learns one example. Precondition: it passes ValidateBatch for config().
  void Learn(std::span<const float> x, double label, double weight = 1);

  // Precondition: x has config().num_features finite values.
  void Predict(std::span<const float> x, Prediction& out) const;

  const ModelConfig& config() const { return config_; }
  uint64_t version() const { return version_; }
  MetricsSummary metrics() const { return metrics_.Summary(); }
  RawLinearFunction RawFunction() const;

  // The complete state (weights, statistics, metrics) as named tensors, and
  // the inverse: a model that continues bit-identically. INVALID_ARGUMENT on
  // a missing tensor, a wrong shape or a non-finite weight.
  std::vector<NamedTensor> ExportState() const;
  // A model at version 0 with the given parameters (in standardized space)
  // and standardization statistics, as fitted by a batch trainer.
  // Preconditions: config passed WithDefaults; shapes match it.
  static LinearModel FromParameters(const ModelConfig& config,
                                    RunningStats feature_stats,
                                    RunningStats label_stats,
                                    Eigen::MatrixXd weights,
                                    Eigen::VectorXd bias);
  // Standardization statistics (identity ones when standardize is off).
  const RunningStats& feature_stats() const { return feature_stats_; }
  const RunningStats& label_stats() const { return label_stats_; }

  static absl::StatusOr<LinearModel> FromState(
      const ModelConfig& config, uint64_t version,
      const std::vector<NamedTensor>& state);

 private:
  explicit LinearModel(const ModelConfig& config);
  double LearningRate(uint64_t t) const;
  // The model's scores for x; z receives the (standardized) input.
  void Score(std::span<const float> x, Eigen::VectorXd& z,
             Eigen::VectorXd& scores) const;
  void ToPrediction(const Eigen::VectorXd& scores, Prediction& out) const;

  ModelConfig config_;
  uint64_t version_ = 0;
  Eigen::MatrixXd weights_;  // outputs x features, in standardized space
  Eigen::VectorXd bias_;
  RunningStats feature_stats_;
  RunningStats label_stats_;  // regression only
  ProgressiveMetrics metrics_;
  // Scratch, kept to avoid allocating per example.
  Eigen::VectorXd z_, scores_, grad_;
  Prediction prediction_;
};

}  // namespace streamfit

#endif  // STREAMFIT_CORE_LINEAR_MODEL_H_
