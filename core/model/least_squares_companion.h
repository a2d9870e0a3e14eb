// Exact least squares beside the update rule. For a model serving `auto` on
// narrow dense regression with squared loss (AppliesTo), the rls rule
// (rules/rls.h) also runs on the raw features and labels, next to the
// update rule's live and averaged weights: after every sample its weights
// are the ridge least-squares fit of all samples so far, and auto serves
// them whenever their recent progressive loss is the lowest of the three
// (docs/LEARNING.md, "Beside the rule, by default"). LinearModel
// holds one; ModelTrainer drives it. The fit retires for good at the first
// example with hashed features, which a dense fit cannot account for.
// A value type: not thread-safe to write, safe to read from any number of
// threads.
#ifndef STREAMFIT_CORE_MODEL_LEAST_SQUARES_COMPANION_H_
#define STREAMFIT_CORE_MODEL_LEAST_SQUARES_COMPANION_H_

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "core/model/model_config.h"
#include "core/model/rules/rls.h"

namespace streamfit {

class LeastSquaresCompanion {
 public:
  // At most this many dense features: a sample costs about 2 (d + 1)^2
  // multiply-adds, about twice the rule and its average together at d = 10
  // to 16 (docs/LEARNING.md).
  static constexpr uint32_t kMaxFeatures = 16;
  // The prior strength (the rls rule's default rls_ridge); no forgetting:
  // a change of the stream restarts the fit instead (ModelTrainer).
  static constexpr double kRidge = 1e-6;

  // Whether a model of `config` (after WithDefaults) keeps one.
  static bool AppliesTo(const ModelConfig& config) {
    return config.serving == Serving::kAuto &&
           config.task == Task::kRegression &&
           config.loss == LossKind::kSquared &&
           config.optimizer != Optimizer::kRls && config.num_features >= 1 &&
           config.num_features <= kMaxFeatures;
  }
  // The values a model of `config` keeps for it (ModelStateBytes).
  static uint64_t StateValues(const ModelConfig& config);

  LeastSquaresCompanion() = default;  // none, or retired
  // A fit of d features that has seen no sample.
  explicit LeastSquaresCompanion(uint32_t d);
  // From restored parts. Precondition: weights has d + 1 entries and `rls`
  // is a state of d features.
  LeastSquaresCompanion(RlsState rls, std::vector<double> weights,
                        double updates)
      : rls_(std::move(rls)), weights_(std::move(weights)), updates_(updates) {}

  bool active() const { return !weights_.empty(); }
  // The raw estimate w . (x, 1), bounded as the rule's scores are. `z` has
  // room for x.size() doubles. Precondition: active().
  double Score(std::span<const float> x, double* z) const;
  // Learns (x, label) with importance weight h > 0, from z and `score` of
  // the Score(x, z) call; the sample is left out if the weights would not
  // be finite. `scratch` has room for 2 (d + 1) doubles.
  void Learn(std::span<const double> z, double label, double score, double h,
             double* scratch);
  // Forgets every sample, keeping the weights as the prior's center (so the
  // fit restarts from them): after a change of the stream. Precondition:
  // active().
  void Restart();
  // Stops for good (an example with hashed features came).
  void Retire() { *this = LeastSquaresCompanion(); }

  const std::vector<double>& weights() const { return weights_; }
  const RlsState& rls() const { return rls_; }
  // Samples learned since the fit (re)started.
  double updates() const { return updates_; }

 private:
  RlsState rls_;
  std::vector<double> weights_;  // d + 1, the bias last; empty: none
  double updates_ = 0;
};

}  // namespace streamfit

#endif  // STREAMFIT_CORE_MODEL_LEAST_SQUARES_COMPANION_H_
