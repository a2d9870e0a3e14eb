// A linear model with bias for regression, binary or multiclass tasks over
// dense features (online-standardized) and hashed sparse features with
// quadratic namespace interactions, learned one example at a time by a
// per-coordinate update rule.
#ifndef STREAMFIT_CORE_MODEL_LINEAR_MODEL_H_
#define STREAMFIT_CORE_MODEL_LINEAR_MODEL_H_

#include <Eigen/Core>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "core/model/drift_monitor.h"
#include "core/model/example_batch.h"
#include "core/model/kalman_companion.h"
#include "core/model/least_squares_companion.h"
#include "core/model/loss.h"
#include "core/model/model_config.h"
#include "core/model/progressive_metrics.h"
#include "core/model/rules/rls.h"
#include "core/model/running_stats.h"
#include "core/model/sparse_table.h"

namespace streamfit {

// The weights Predict serves (LinearModel::Served).
enum class ServedWeights { kLive, kAveraged, kLeastSquares, kKalman };

// One model output. Regression: value is the estimate. Binary: value is
// P(label = 1) (hinge loss: the decision, 0 or 1). Multiclass: value is the
// most likely class and scores holds every class's probability.
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

// The dense part of the model as a plain function of raw features: output
// k = bias[k] + sum_j weights(k, j) x[j] (the logit for binary, class scores
// for multiclass). Sparse weights are not included.
struct RawLinearFunction {
  Eigen::MatrixXd weights;  // outputs x features
  Eigen::VectorXd bias;
};

// The buffers one scoring pass writes: the (standardized) dense input z, the
// active sparse coordinates (slots, xs), the raw output scores, and the
// namespace scratch for interactions. Reusing one across calls makes a
// prediction allocation-free once the buffers have grown.
struct ScoreBuffers {
  std::vector<double> z, xs, scores;
  // Per output, the averaging accumulators' part of the score (over the
  // dense and hashed coordinates), when Score was asked for it and there is
  // an average (read by AverageScores).
  std::vector<double> averaged;
  // Whether an update must look for accumulators of an earlier average in
  // the active hashed slots' blocks: a block holds some or was never
  // written, or Score did not look (asked for no average, or before the
  // average's first update).
  bool stale_accumulators = true;
  std::vector<uint32_t> slots, scratch;
  // The Kalman filter's scratch (KalmanCompanion::Score), when it serves.
  std::vector<double> kalman;
};

// What Predict and Snapshot read: config, dense weights and the optimizer
// values stored beside them, the hashed table, the standardization
// statistics, progressive metrics and the drift monitor. A snapshot holds
// the optimizer values too, because a model restored from one must continue
// bit-identically; they sit next to each weight in the same cache line, so
// keeping them apart would cost a second lookup per coordinate per update.
// What only learning needs (scratch, gradient, rollback log) lives in
// ModelTrainer (core/model/model_trainer.h), the only writer, so a published
// copy carries none of it.
// version() is the number of examples learned. A value type: copying copies
// the dense planes and shares the hashed table's blocks copy-on-write. Const
// methods are safe to call from any number of threads at once.
class LinearModel {
 public:
  // INVALID_ARGUMENT if `config` is invalid (see WithDefaults).
  static absl::StatusOr<LinearModel> Create(const ModelConfig& config);

  // Precondition: x passes ValidateFeatures for config(). The first form
  // reuses `buffers` (see ScoreBuffers); the second allocates its own.
  void Predict(const ExampleView& x, ScoreBuffers& buffers,
               Prediction& out) const;
  void Predict(const ExampleView& x, Prediction& out) const {
    ScoreBuffers buffers;
    Predict(x, buffers, out);
  }
  void Predict(std::span<const float> x, Prediction& out) const {
    Predict(ExampleView{x, {}, {}, {}}, out);
  }

  const ModelConfig& config() const { return config_; }
  uint64_t version() const { return version_; }
  MetricsSummary metrics() const;
  // The progressive metric losses summed over every sample learned.
  double loss_sum() const { return metrics_.loss_sum(); }
  // The dense part of what Predict serves (the weights Served() names); for
  // the Kalman filter its mean weights, whose scores Predict moderates
  // (KalmanCompanion::Score).
  RawLinearFunction RawFunction() const;
  // Which weights Predict serves: the averaged ones under serving
  // `averaged`; under `auto` the least-squares fit while it is kept, has
  // learned more samples than there are features and its recent progressive
  // loss is the lowest; the Kalman filter while it is kept, has learned a
  // sample and its recent loss is at most KalmanCompanion::kServingMargin
  // times the lowest of the others; else the averaged weights while
  // theirs is below the live weights', else the live ones
  // (docs/LEARNING.md, "Iterate averaging"). A function of the samples
  // learned, so replicas and replays agree.
  ServedWeights Served() const;
  bool ServesAveraged() const { return Served() == ServedWeights::kAveraged; }
  // Recent progressive losses (exponentially weighted over about
  // kAveragingLossHorizon samples) of the live and the averaged weights and
  // of the least-squares fit and the Kalman filter; 0 for those the model
  // does not keep.
  double RecentLiveLoss() const { return loss_live_; }
  double RecentAveragedLoss() const { return loss_avg_; }
  double RecentLeastSquaresLoss() const { return least_squares_loss_; }
  double RecentKalmanLoss() const { return kalman_loss_; }
  // The exact least-squares fit kept beside the rule
  // (LeastSquaresCompanion::AppliesTo), inactive when there is none.
  const LeastSquaresCompanion& least_squares() const { return least_squares_; }
  // The Kalman filter kept beside the rule (KalmanCompanion::AppliesTo),
  // inactive when there is none.
  const KalmanCompanion& kalman() const { return kalman_; }
  // The averaged weight of output k's dense coordinate j (j = num_features:
  // the bias) and of sparse slot `slot`; the live weight without averaging.
  double AveragedDenseWeight(uint32_t k, uint32_t j) const;
  double AveragedSparseWeight(uint32_t slot, uint32_t k = 0) const;
  // Updates taken into the current average (0 right after it (re)starts).
  uint64_t AveragedUpdates() const { return static_cast<uint64_t>(avg_count_); }

  // Iterate averaging weighs the t-th update since the average started by t
  // (kAveragingPower 1), so early iterates fade; the recent losses the auto
  // choice compares decay by 1 / kAveragingLossHorizon per sample; the
  // average restarts when its recent loss exceeds kAveragingRestartRatio
  // times the live weights' after at least kAveragingLossHorizon samples in
  // it. docs/LEARNING.md, "Iterate averaging", gives the measurements.
  static constexpr int kAveragingPower = 1;
  static constexpr double kAveragingLossHorizon = 1000;
  static constexpr double kAveragingRestartRatio = 1.25;

  // The weight of output `k` in sparse slot `slot` (0 if never touched).
  double SparseWeight(uint32_t slot, uint32_t k = 0) const;
  // Number of sparse slots holding a non-zero weight.
  size_t SparseNonZeros() const;
  // Whether any hashed slot was ever written (weights or optimizer state).
  bool HasHashedState() const { return !table_.empty(); }

  // The complete state (weights, optimizer and normalizer state, metrics) as
  // named tensors, and the inverse: a model that continues bit-identically.
  // FromState: INVALID_ARGUMENT on a missing tensor, a wrong shape or a
  // non-finite value. Both are in core/model/linear_model_state.cc.
  std::vector<NamedTensor> ExportState() const;
  static absl::StatusOr<LinearModel> FromState(
      const ModelConfig& config, uint64_t version,
      const std::vector<NamedTensor>& state);

  // A model at version 0 with the given parameters (in standardized space)
  // and standardization statistics, as fitted by a batch trainer to `data`
  // (which an rls model takes its Gram matrix from: RlsState::FromData).
  // Preconditions: config passed WithDefaults; shapes match it; data passes
  // ValidateBatch for it.
  static LinearModel FromParameters(const ModelConfig& config,
                                    RunningStats feature_stats,
                                    RunningStats label_stats,
                                    Eigen::MatrixXd weights,
                                    Eigen::VectorXd bias,
                                    const ExampleBatch& data);
  // Standardization statistics (identity ones when standardize is off).
  const RunningStats& feature_stats() const { return feature_stats_; }
  const RunningStats& label_stats() const { return label_stats_; }

 private:
  friend class ModelTrainer;

  // Per sparse slot and output: the weight and two optimizer values (see
  // docs/LEARNING.md for what each rule keeps there).
  static constexpr int kStride = 3;
  // Standardization multiplies by 1 / sd, recomputed after each of the first
  // kExactScaleSamples examples and then every kScaleRefreshInterval: the
  // spread of a feature barely moves over a few dozen examples once
  // thousands are in, and a square root and a division per feature and
  // example would cost more than the rest of an update.
  static constexpr int64_t kExactScaleSamples = 1024;
  static constexpr int64_t kScaleRefreshInterval = 64;

  // Poisson scores are clamped here before exponentiating.
  static constexpr double kMaxLogRate = 30;

  explicit LinearModel(const ModelConfig& config);
  // inv_std_ = 1 / feature_stats_.SafeStd(), elementwise.
  void ComputeScale();
  // For ftrl, sets every coordinate's z (its first optimizer value) to the
  // one that gives back its weight with n = 0 (FtrlRule::StateFor); the
  // weights of other rules need no such state.
  void FtrlStateFromWeights();
  bool StandardizesTarget() const;
  // Fills buffers.slots and .xs with the active sparse coordinates of x.
  void Gather(const ExampleView& x, ScoreBuffers& buffers) const;
  // Sets z[0, d) to x's dense inputs as the weights see them (standardized
  // when the config says so).
  void Standardize(const ExampleView& x, double* z) const;
  // Fills b: z, the sparse coordinates and the raw output scores; with
  // `for_average`, also b.averaged, read in the same pass over the dense
  // inputs and the same lookup of each slot (precondition:
  // Averages(config_)).
  void Score(const ExampleView& x, ScoreBuffers& b,
             bool for_average = false) const;
  // Sets `averaged` (which may be `live`) to the averaged weights' scores,
  // from `live`, the live scores of the input Score put into b (called with
  // for_average). Precondition: Averages(config_).
  void AverageScores(const ScoreBuffers& b, const double* live,
                     double* averaged) const;
  // Where a hashed slot's averaging accumulators (c per output) start:
  // after its outputs' {w, a, b}.
  size_t AccumulatorOffset() const {
    return static_cast<size_t>(outputs_) * kStride;
  }
  // Whether the accumulators of `slot`'s block belong to the current average
  // (otherwise they are left from an earlier one and count as zeros).
  bool AccumulatorsCurrent(uint32_t slot) const {
    return avg_block_start_[slot >> table_.block_bits()] == avg_start_;
  }
  // The accumulators of `slot`, whose values start at `t`, or nullptr if
  // they hold none for the current average.
  const double* CurrentAccumulators(uint32_t slot, const double* t) const {
    return AccumulatorsCurrent(slot) ? t + AccumulatorOffset() : nullptr;
  }
  // The accumulators of sparse slot `slot` (CurrentAccumulators), or
  // nullptr if it holds none for the current average.
  const double* AveragedSlot(uint32_t slot) const {
    const double* t = table_.Find(slot);
    return t == nullptr ? nullptr : CurrentAccumulators(slot, t);
  }
  void ToPrediction(const double* scores, Prediction& out) const;
  // A regression estimate clamped to the labels seen (widened by half their
  // range on each side).
  double ClampToLabels(double v) const;
  // The index of output k's dense coordinate j (d: the bias).
  size_t DenseIndex(uint32_t k, uint32_t j) const {
    return static_cast<size_t>(k) * (config_.num_features + 1) + j;
  }

  ModelConfig config_;
  LossSpec loss_;
  uint32_t outputs_ = 1;
  std::vector<std::pair<uint32_t, uint32_t>> interactions_;  // namespace hashes
  uint64_t version_ = 0;
  // The dense coordinates, at DenseIndex(k, j): per output its features then
  // its bias, so a score is one contiguous dot product. dense_ holds three
  // planes of plane_ values: the weights w, then the optimizer values a,
  // then b (a sparse slot keeps the same three together).
  size_t plane_ = 0;
  std::vector<double> dense_;
  // [slot][output][kStride], then with averaging the slot's accumulators
  // (below); blocks shared copy-on-write with published copies, allocated
  // on their first write.
  SparseTable table_;
  // Global optimizer state: updates taken, sum of weight * normalized
  // |x|^2 and of weights (normalized), beta1^t and beta2^t (adam).
  double steps_ = 0, norm_sum_ = 0, weight_sum_ = 0, beta1_t_ = 1, beta2_t_ = 1;
  uint64_t skipped_updates_ = 0;
  // The range of labels seen (regression); empty (min > max) before any.
  double label_min_ = 1, label_max_ = 0;
  RunningStats feature_stats_;
  std::vector<double> inv_std_;  // see kExactScaleSamples
  RunningStats label_stats_;     // regression only
  ProgressiveMetrics metrics_;
  DriftMonitor drift_;
  // The rls rule's matrices (empty for the other rules).
  RlsState rls_;

  // Iterate averaging (when Averages(config_)). With Delta_j the change of
  // the weights in the j-th update since the average started, a_j = j^p its
  // weight and A_j = a_1 + ... + a_j, the weighted mean of the iterates
  // w_1..w_T is w_T - c / A_T with c = sum_j A_(j-1) Delta_j, kept per
  // coordinate and changed only where an update changes the weights.
  // avg_dense_[DenseIndex(k, j)] is c of a dense coordinate; a hashed slot
  // of table_ ends with c per output (32 bytes for one output: a slot is
  // one cache line's half). A restart leaves the table as it is:
  // avg_block_start_ holds, per block of table_, the avg_start_ (the version
  // at which an average started) its accumulators were last zeroed for, and
  // they count only while that is the current average's, the trainer
  // zeroing a block's accumulators on its first write in a new average.
  // avg_count_ is T, avg_weight_ A_T.
  std::vector<double> avg_dense_;
  std::vector<double> avg_block_start_;
  double avg_count_ = 0, avg_weight_ = 0, avg_start_ = 0;
  // Recent progressive losses of the live and averaged weights.
  double loss_live_ = 0, loss_avg_ = 0;
  // Exact least squares beside the rule, and its recent progressive loss.
  LeastSquaresCompanion least_squares_;
  double least_squares_loss_ = 0;
  // The Kalman filter beside the rule, and its recent progressive loss.
  KalmanCompanion kalman_;
  double kalman_loss_ = 0;
};

}  // namespace streamfit

#endif  // STREAMFIT_CORE_MODEL_LINEAR_MODEL_H_
