// A Kalman filter beside the update rule. For a model serving `auto` on a
// narrow dense classifier with logistic or softmax loss (AppliesTo), the
// model also keeps, next to the rule's live and averaged weights, the
// extended Kalman filter of logistic regression (the Gaussian approximation
// of Bayesian online logistic regression; Spiegelhalter & Lauritzen 1990),
// and auto serves it unless its recent progressive loss is more than
// kServingMargin times the rule's lowest (docs/LEARNING.md, "A second-order
// start for classifiers").
//
// One filter per output: a binary model has one; a model of k classes has k,
// each of its class against the rest, whose scores the model's softmax turns
// into probabilities. Filter c holds weights w_c and covariance P_c over the
// standardized inputs z~ = (z, 1) (n = d + 1 coordinates, the bias last),
// from the prior N(0, I). A sample (z, label) with importance weight h and
// target t_c (1 for its class, else 0) updates each filter as
//
//   p = sigmoid(w_c . z~),  g = p (1 - p),  u = P_c z~,  v = z~ . u,
//   w_c += h (t_c - p) / (1 + h g v) u,   P_c -= h g / (1 + h g v) u u^T
//
// Its scores are moderated by their uncertainty (Score). A sample costs
// about 2 n^2 multiply-adds per filter (P z~ for the score, which the update
// reuses, and the rank-one update of P), in loops over P's rows that
// vectorize. The filter retires for good at the first example with hashed
// features, which a dense filter cannot account for. A value type: not
// thread-safe to write, safe to read from any number of threads.
#ifndef STREAMFIT_CORE_MODEL_KALMAN_COMPANION_H_
#define STREAMFIT_CORE_MODEL_KALMAN_COMPANION_H_

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "core/model/example_batch.h"
#include "core/model/model_config.h"

namespace streamfit {

class KalmanCompanion {
 public:
  // At most this many covariance values, k (d + 1)^2 for k filters (a
  // binary classifier of up to 63 features; docs/LEARNING.md has the cost).
  static constexpr uint64_t kMaxCovarianceValues = 4096;
  // Auto serves the filter while its recent loss is at most this many times
  // the rule's (live or averaged) lowest: on the near ties of a stationary
  // stream its decisions measured as good or better on every stream
  // (docs/LEARNING.md), and after a change the rule's loss falls well below.
  static constexpr double kServingMargin = 1.05;

  // Whether a model of `config` (after WithDefaults) keeps one.
  static bool AppliesTo(const ModelConfig& config);
  // The values a model of `config` keeps for it (ModelStateBytes).
  static uint64_t StateValues(const ModelConfig& config);

  KalmanCompanion() = default;  // none, or retired
  // `filters` filters of d features at the prior.
  KalmanCompanion(uint32_t d, uint32_t filters);
  // The filters of a model whose standardized weights w (filters x (d + 1),
  // row-major, the bias last) were fitted to `data` by a batch trainer: each
  // centred on its w with the Laplace covariance (I + sum h g z~ z~^T)^-1,
  // g = p (1 - p) at w, over `data` standardized by `mean` and `inv_std`, so
  // later samples move them as if they had learned `data` first.
  // Precondition: `data` has d dense features.
  static KalmanCompanion FromData(uint32_t d, uint32_t filters,
                                  const ExampleBatch& data,
                                  std::span<const double> mean,
                                  std::span<const double> inv_std,
                                  std::vector<double> w);

  // Its state as values (the weights, filters x n; the covariances, filters
  // x n x n, symmetric; the updates since its start) and back. FromValues
  // takes arrays of those sizes with finite values (LinearModel::FromState
  // checks both), reads each covariance's lower triangle, and refuses one
  // that is not positive definite with INVALID_ARGUMENT.
  struct Values {
    std::vector<double> weights, covariance;
    double updates = 0;
  };
  Values Export() const { return v_; }
  static absl::StatusOr<KalmanCompanion> FromValues(uint32_t d,
                                                    uint32_t filters,
                                                    Values values);

  bool active() const { return !v_.weights.empty(); }
  // The doubles of scratch Score and Learn take.
  size_t ScratchSize() const;
  // The filters' scores for the d standardized inputs z, moderated by their
  // uncertainty: w_c . z~ / sqrt(1 + (pi / 8) z~ . P_c z~), bounded as the
  // rule's scores are (the sigmoid of one approximates the probability the
  // filter's Gaussian gives its class). Leaves in `scratch` (ScratchSize()
  // doubles) the products of z~ that Learn needs. Precondition: active().
  void Score(const double* z, double* scores, double* scratch) const;
  // Learns the input Score last scored with `scratch`, with `label` and
  // importance weight h > 0. Precondition: neither Learn nor Restart ran
  // since that Score. A filter whose covariance loses a positive diagonal
  // or whose weights stop being finite restarts.
  void Learn(double label, double h, const double* scratch);
  // Forgets every sample, keeping the weights as the prior's mean: after a
  // change of the stream. Precondition: active().
  void Restart();
  // Stops for good (an example with hashed features came).
  void Retire() { *this = KalmanCompanion(); }

  // Filter c's weights are [c * (d + 1), (c + 1) * (d + 1)).
  const std::vector<double>& weights() const { return v_.weights; }
  // Samples learned since the filters (re)started.
  double updates() const { return v_.updates; }

 private:
  KalmanCompanion(uint32_t filters, Values values)
      : filters_(filters), v_(std::move(values)) {}
  // Filter c's covariance to the prior's, I.
  void ResetCovariance(uint32_t c);

  uint32_t filters_ = 0;
  // Each covariance is kept whole and exactly symmetric (Learn).
  Values v_;
};

}  // namespace streamfit

#endif  // STREAMFIT_CORE_MODEL_KALMAN_COMPANION_H_
