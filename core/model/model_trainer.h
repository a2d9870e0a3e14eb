// The learning rule (docs/LEARNING.md). For each example (x, y, weight):
//   1. update the running feature statistics with the dense x,
//      z = standardize(x); gather the hashed sparse features and their
//      quadratic interactions (slot, value);
//   2. score s = W z + b + sum T[slot] value and record the progressive
//      metrics on the prediction made from s;
//   3. the progressive loss of s goes to the drift monitor (a detected rise
//      is counted; under the reset policy the optimizer state is
//      forgotten);
//   4. g = d loss / d s (clipped to max_gradient), then every active
//      coordinate (dense, bias, sparse slots) takes one step of the
//      configured update rule. If any new weight or optimizer state would be
//      non-finite, nothing is changed and skipped_updates counts it. The rls
//      rule (rules/rls.h) instead moves the dense weights to the
//      least-squares fit of the samples so far.
// With iterate averaging (every serving but live), step 2 also scores the
// averaged weights, the progressive metrics see the served prediction's
// loss (the drift monitor still sees the live one's), the recent losses of
// both are updated, and a
// successful step 4 takes its weight changes into the average's
// accumulators (O(active coordinates)). Under `auto`, a narrow dense
// regression model also scores and learns its least-squares fit
// (least_squares_companion.h) on the raw example, and serves it while its
// recent progressive loss is the lowest.
// Regression with squared, huber or quantile loss learns a standardized
// target: the estimate is mean_y + sd_y * s with running label statistics
// (updated after the step), clamped to the range of labels seen widened by
// half of it on each side.
#ifndef STREAMFIT_CORE_MODEL_MODEL_TRAINER_H_
#define STREAMFIT_CORE_MODEL_MODEL_TRAINER_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "core/model/example_batch.h"
#include "core/model/linear_model.h"
#include "core/model/model_config.h"

namespace streamfit {

// Learns examples into the LinearModel it owns, by the rule above: the one
// writer of a model. It keeps what only learning needs (scoring buffers, the
// gradient, the log a non-finite update rolls back with) out of the model,
// so publishing model() copies none of it. Not thread-safe: one thread
// learns; others read published copies of model().
class ModelTrainer {
 public:
  // INVALID_ARGUMENT if `config` is invalid (see WithDefaults).
  static absl::StatusOr<ModelTrainer> Create(const ModelConfig& config);
  // Continues learning from `model`.
  explicit ModelTrainer(LinearModel model);

  // Learns one example. Precondition: it passes ValidateBatch for config().
  void Learn(const ExampleView& x, double label, double weight = 1);
  void Learn(std::span<const float> x, double label, double weight = 1) {
    Learn(ExampleView{x, {}, {}, {}}, label, weight);
  }
  // Learns examples [begin, end) of `batch` in order: the one loop that
  // applies samples, for the live learner, a retrain's catch-up and
  // recovery alike. Precondition: the batch passes ValidateBatch for
  // config().
  void LearnBatch(const ExampleBatch& batch, size_t begin, size_t end);
  void LearnBatch(const ExampleBatch& batch) {
    LearnBatch(batch, 0, batch.size());
  }

  const LinearModel& model() const { return model_; }
  LinearModel TakeModel() && { return std::move(model_); }
  const ModelConfig& config() const { return model_.config(); }
  uint64_t version() const { return model_.version(); }

 private:
  static constexpr size_t kStride = LinearModel::kStride;

  double LearningRate(uint64_t t) const;
  // The drift policy `reset`: every coordinate's optimizer values and the
  // global ones go back to a new model's; the weights stay (and a new
  // average of them starts).
  void ForgetOptimizerState();
  // Starts a new average of the iterates, before this example's update.
  void RestartAverage();
  // The metric loss of the prediction made from `scores` (as Learn records
  // the live one), whether a classifier's decision was right, and
  // |estimate - label| for regression.
  double MetricLoss(const double* scores, double label, bool& correct,
                    double& abs_error);
  // After a successful update: adds A_(T-1) Delta to the accumulators of the
  // coordinates it changed (the dense planes, and the `logged` sparse
  // coordinates of the rollback log, a slot repeated in the example taken
  // once), then T += 1.
  void TakeIntoAverage(size_t logged);
  // Zeroes the averaging accumulators of `slot`'s block, left from an
  // earlier average, and makes them count for the current one: on the
  // block's first write in an average, once per block (2^12 slots) per
  // restart.
  void ZeroStaleAccumulators(uint32_t slot);
  // One step of Rule, one of the kernels in core/model/rules/, from grad_
  // at the input scored into buffers_; false (and nothing changed) if it
  // would make the model non-finite.
  template <class Rule>
  bool Update(double weight, double sgd_step);
  // Takes a companion's (the least-squares fit's or the Kalman filter's)
  // progressive `loss` into its `recent` loss; whether the companion, having
  // learned `updates` samples, fell so far behind the live weights that it
  // restarts (`recent` then starts again from the live weights' loss).
  bool TrackCompanionLoss(double loss, double updates, double& recent);

  LinearModel model_;
  ScoreBuffers buffers_;
  std::vector<double> grad_;
  Prediction prediction_;
  // What an update rolls back to: the dense values before it (those its rule
  // writes), and the sparse coordinates it touched (output 0's values;
  // output k's are kStride * k further) with their inputs and their slots'
  // values before it (the averaging accumulators included).
  std::vector<double> dense_undo_;
  struct SparseCoord {
    double* coord;
    double x;
  };
  std::vector<SparseCoord> sparse_;
  std::vector<double> sparse_undo_;
  // The rls rule's P x~ and x~ (for the rule, or the least-squares fit
  // beside it), the fit's input as doubles, and the Kalman filter's scores
  // and scratch (kept from its Score to its Learn).
  std::vector<double> rls_scratch_;
  std::vector<double> raw_;
  std::vector<double> kalman_scores_;
  std::vector<double> kalman_scratch_;
  // The averaged weights' scores, and their prediction (averaging only).
  std::vector<double> avg_scores_;
  Prediction avg_prediction_;
};

}  // namespace streamfit

#endif  // STREAMFIT_CORE_MODEL_MODEL_TRAINER_H_
