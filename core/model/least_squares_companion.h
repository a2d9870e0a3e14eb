// Least squares beside the update rule. For a model serving `auto` on
// narrow dense regression with squared loss (AppliesTo), the model also
// keeps the ridge least-squares fit of the raw features and labels, next to
// the update rule's live and averaged weights, and auto serves it whenever
// its recent progressive loss is the lowest of the three (docs/LEARNING.md,
// "Beside the rule, by default"). For inputs x~ = (x, 1) (n = d + 1
// coordinates, the bias last), importance weights h and labels y it holds
//
//   A = r I + sum_i h_i x~_i x~_i^T,   b = r c + sum_i h_i y_i x~_i
//
// (r = kRidge, c the prior's center: 0, or the weights at a restart), and
// its weights are A^-1 b as of the last refresh: after each of the first
// 4n updates, then after every 4n-th (RefreshesAfter). A sample costs a
// rank-one update of A's lower triangle, about n^2 / 2 multiply-adds; a
// refresh, an LDLT factorization (n^3 / 6) amortized over 4n samples, with the
// rls rule's equilibration and condition guard (rules/rls.h,
// SolveNormalEquations). LinearModel holds one; ModelTrainer drives it. The fit
// retires for good at the first example with hashed features, which a dense fit
// cannot account for. A value type: not thread-safe to write, safe to read from
// any number of threads.
#ifndef STREAMFIT_CORE_MODEL_LEAST_SQUARES_COMPANION_H_
#define STREAMFIT_CORE_MODEL_LEAST_SQUARES_COMPANION_H_

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "core/model/example_batch.h"
#include "core/model/model_config.h"

namespace streamfit {

class LeastSquaresCompanion {
 public:
  // At most this many dense features (docs/LEARNING.md has the cost).
  static constexpr uint32_t kMaxFeatures = 32;
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
  // Whether the weights are refreshed after the `updates`-th update since
  // the fit (re)started, for d features (the schedule above).
  static bool RefreshesAfter(uint64_t updates, uint32_t d);

  LeastSquaresCompanion() = default;  // none, or retired
  // A fit of d features that has seen no sample.
  explicit LeastSquaresCompanion(uint32_t d);
  // The fit of a model whose raw weights w (d + 1, the bias last) were fitted
  // to `data` by a batch trainer: A = r I + sum h x~ x~^T over `data` and the
  // prior centred on w (b = A w, c = w), so later samples move the fit as if
  // it had learned `data` first. Precondition: `data` has d dense features.
  static LeastSquaresCompanion FromData(uint32_t d, const ExampleBatch& data,
                                        std::vector<double> w);

  // Its state as values (A row-major n x n, symmetric; b, c and the weights
  // of n; the updates since its start) and back. FromValues takes arrays of
  // those sizes with finite values (LinearModel::FromState checks both),
  // reads A's lower triangle, and refuses a non-positive diagonal entry with
  // INVALID_ARGUMENT.
  struct Values {
    std::vector<double> gram, moment, prior_center, weights;
    double updates = 0;
  };
  Values Export() const;
  static absl::StatusOr<LeastSquaresCompanion> FromValues(uint32_t d,
                                                          Values values);

  bool active() const { return !v_.weights.empty(); }
  // The raw estimate w . (x, 1), bounded as the rule's scores are. `z` has
  // room for x.size() doubles. Precondition: active().
  double Score(std::span<const float> x, double* z) const;
  // Learns (z, label) with importance weight h > 0; `scratch` has room for
  // d + 1 doubles. A refresh whose weights would not be finite restarts the
  // fit instead.
  void Learn(std::span<const double> z, double label, double h,
             double* scratch);
  // Forgets every sample, keeping the weights as the prior's center (so the
  // fit restarts from them): after a change of the stream. Precondition:
  // active().
  void Restart();
  // Stops for good (an example with hashed features came).
  void Retire() { *this = LeastSquaresCompanion(); }

  const std::vector<double>& weights() const { return v_.weights; }
  // Samples learned since the fit (re)started.
  double updates() const { return v_.updates; }

 private:
  explicit LeastSquaresCompanion(Values values) : v_(std::move(values)) {}

  // A and b are kept in A's lower triangle and b; the upper triangle is
  // stale (Export fills it in).
  Values v_;
};

}  // namespace streamfit

#endif  // STREAMFIT_CORE_MODEL_LEAST_SQUARES_COMPANION_H_
