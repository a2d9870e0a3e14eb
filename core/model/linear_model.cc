#include "core/model/linear_model.h"

#include <algorithm>
#include <cmath>

#include "absl/status/statusor.h"
#include "core/model/dense_score.h"
#include "core/model/feature_hash.h"
#include "core/model/rules/ftrl.h"

namespace streamfit {
LinearModel::LinearModel(const ModelConfig& config)
    : config_(config),
      loss_(LossSpecOf(config)),
      outputs_(NumOutputs(config)),
      plane_(static_cast<size_t>(NumOutputs(config)) *
             (config.num_features + 1)),
      dense_(3 * plane_, 0.0),
      // With averaging, a slot also holds its accumulators (AveragedSlot),
      // in the cache line its weights are in.
      table_(config.hash_bits,
             NumOutputs(config) * (kStride + (Averages(config) ? 1 : 0))),
      feature_stats_(config.num_features),
      inv_std_(config.num_features, 1.0),
      label_stats_(1),
      drift_(config.drift_detector) {
  if (Averages(config)) {
    avg_dense_.assign(plane_, 0.0);
    avg_block_start_.assign(table_.blocks(), avg_start_);
  }
  if (config.optimizer == Optimizer::kRls) {
    rls_ = RlsState(config.num_features, *config.rls_ridge,
                    *config.rls_forgetting);
  }
  if (LeastSquaresCompanion::AppliesTo(config)) {
    least_squares_ = LeastSquaresCompanion(config.num_features);
  }
  if (KalmanCompanion::AppliesTo(config)) {
    kalman_ = KalmanCompanion(config.num_features, outputs_);
  }
  for (const auto& [a, b] : config.interactions) {
    interactions_.emplace_back(HashNamespace(a), HashNamespace(b));
  }
}

absl::StatusOr<LinearModel> LinearModel::Create(const ModelConfig& config) {
  absl::StatusOr<ModelConfig> full = WithDefaults(config);
  if (!full.ok()) return full.status();
  return LinearModel(*full);
}

bool LinearModel::StandardizesTarget() const {
  return config_.task == Task::kRegression && config_.standardize &&
         loss_.kind != LossKind::kPoisson;
}

void LinearModel::Gather(const ExampleView& x, ScoreBuffers& buffers) const {
  std::vector<uint32_t>& slots = buffers.slots;
  std::vector<double>& xs = buffers.xs;
  std::vector<uint32_t>& scratch = buffers.scratch;
  const uint32_t bits = config_.hash_bits;
  const size_t m = x.hashes.size();
  // Sized once and written through pointers: push_back's capacity check per
  // feature cost more than the hashing.
  slots.resize(m);
  xs.resize(m);
  uint32_t* slot = slots.data();
  double* value = xs.data();
  for (size_t f = 0; f < m; ++f) {
    slot[f] = HashSlot(x.hashes[f], bits);
    table_.Prefetch(slot[f]);
    value[f] = x.values[f];
  }
  for (const auto& [a, b] : interactions_) {
    // scratch: the features of namespace a, then those of namespace b.
    scratch.clear();
    for (size_t f = 0; f < x.namespaces.size(); ++f) {
      if (x.namespaces[f] == a) scratch.push_back(f);
    }
    const size_t na = scratch.size();
    for (size_t f = 0; f < x.namespaces.size(); ++f) {
      if (x.namespaces[f] == b) scratch.push_back(f);
    }
    for (size_t i = 0; i < na; ++i) {
      // Within one namespace, each unordered pair of distinct features once.
      for (size_t j = a == b ? na + i + 1 : na; j < scratch.size(); ++j) {
        const uint32_t fi = scratch[i], fj = scratch[j];
        slots.push_back(
            HashSlot(InteractionHash(x.hashes[fi], x.hashes[fj]), bits));
        table_.Prefetch(slots.back());
        xs.push_back(static_cast<double>(x.values[fi]) * x.values[fj]);
      }
    }
  }
}

void LinearModel::Standardize(const ExampleView& x, double* z) const {
  const uint32_t d = config_.num_features;
  if (config_.standardize) {
    const double* mean = feature_stats_.mean().data();
    for (uint32_t j = 0; j < d; ++j)
      z[j] = (x.dense[j] - mean[j]) * inv_std_[j];
  } else {
    for (uint32_t j = 0; j < d; ++j) z[j] = x.dense[j];
  }
}

void LinearModel::Score(const ExampleView& x, ScoreBuffers& b,
                        bool for_average) const {
  const uint32_t d = config_.num_features;
  b.z.resize(d);
  b.scores.resize(outputs_);
  double* const z = b.z.data();
  double* const scores = b.scores.data();
  const std::vector<uint32_t>& slots = b.slots;
  const std::vector<double>& xs = b.xs;
  Standardize(x, z);
  if (x.hashes.empty()) {  // dense only (interactions pair hashed features)
    b.slots.clear();
    b.xs.clear();
  } else {
    Gather(x, b);
  }
  // The accumulators' part is wanted only once there is an average to
  // differ from the live weights (AverageScores).
  const bool averaged = for_average && avg_weight_ != 0;
  if (averaged) b.averaged.resize(outputs_);
  bool stale = !averaged;
  for (uint32_t k = 0; k < outputs_; ++k) {
    const double* const w = &dense_[DenseIndex(k, 0)];
    double dense_part = 0;
    PartialSums s = averaged ? DenseSums<true>(w, &avg_dense_[DenseIndex(k, 0)],
                                               z, d, &dense_part)
                             : DenseSums(w, z, d);
    double a = 0;
    for (size_t f = 0; f < slots.size(); ++f) {
      const double* t = table_.Find(slots[f]);
      if (t == nullptr) {
        stale = true;
        continue;
      }
      (f % 2 == 0 ? s.s1 : s.s3) += t[k * kStride] * xs[f];
      if (!averaged) continue;
      if (const double* c = CurrentAccumulators(slots[f], t)) {
        a += c[k] * xs[f];
      } else {
        stale = true;
      }
    }
    scores[k] = BoundedScore(s.Total());
    if (averaged) b.averaged[k] = dense_part + a;
  }
  b.stale_accumulators = stale;
}

void LinearModel::AverageScores(const ScoreBuffers& b, const double* live,
                                double* averaged) const {
  for (uint32_t k = 0; k < outputs_; ++k) {
    // Before the first update the average is w itself.
    averaged[k] = avg_weight_ == 0
                      ? live[k]
                      : BoundedScore(live[k] - b.averaged[k] / avg_weight_);
  }
}

ServedWeights LinearModel::Served() const {
  if (config_.serving == Serving::kAveraged) return ServedWeights::kAveraged;
  if (config_.serving != Serving::kAuto) return ServedWeights::kLive;
  // The fit of fewer samples than coordinates is not determined by them
  // (the prior's choice among many fits): it is not served before.
  if (least_squares_.active() &&
      least_squares_.updates() > config_.num_features &&
      least_squares_loss_ < std::min(loss_live_, loss_avg_)) {
    return ServedWeights::kLeastSquares;
  }
  // The filter, the posterior mean of a proper prior, is served from its
  // first sample on, and keeps a near tie.
  if (kalman_.active() && kalman_.updates() > 0 &&
      kalman_loss_ <=
          KalmanCompanion::kServingMargin * std::min(loss_live_, loss_avg_)) {
    return ServedWeights::kKalman;
  }
  return loss_avg_ < loss_live_ ? ServedWeights::kAveraged
                                : ServedWeights::kLive;
}

double LinearModel::AveragedDenseWeight(uint32_t k, uint32_t j) const {
  const double w = dense_[DenseIndex(k, j)];
  if (!Averages(config_) || avg_weight_ == 0) return w;
  return w - avg_dense_[DenseIndex(k, j)] / avg_weight_;
}

double LinearModel::AveragedSparseWeight(uint32_t slot, uint32_t k) const {
  const double w = SparseWeight(slot, k);
  if (!Averages(config_) || avg_weight_ == 0) return w;
  const double* c = AveragedSlot(slot);
  return c == nullptr ? w : w - c[k] / avg_weight_;
}

void LinearModel::ComputeScale() {
  for (uint32_t j = 0; j < config_.num_features; ++j) {
    inv_std_[j] = 1.0 / feature_stats_.SafeStd(j);
  }
}

void LinearModel::ToPrediction(const double* scores, Prediction& out) const {
  out.scores.clear();
  switch (config_.task) {
    case Task::kBinary:
      out.value = loss_.kind == LossKind::kHinge ? (scores[0] >= 0 ? 1.0 : 0.0)
                                                 : Sigmoid(scores[0]);
      break;
    case Task::kMulticlass: {
      out.scores.resize(outputs_);
      const double max = *std::max_element(scores, scores + outputs_);
      double sum = 0;
      uint32_t best = 0;
      for (uint32_t k = 0; k < outputs_; ++k) {
        out.scores[k] = std::exp(scores[k] - max);
        sum += out.scores[k];
        if (scores[k] > scores[best]) best = k;
      }
      for (double& p : out.scores) p /= sum;
      out.value = best;
      break;
    }
    default: {
      if (loss_.kind == LossKind::kPoisson) {
        out.value = std::exp(std::min(scores[0], kMaxLogRate));
        break;
      }
      double v = scores[0];
      if (StandardizesTarget()) {
        v = label_stats_.mean()[0] + label_stats_.SafeStd(0) * v;
      }
      out.value = ClampToLabels(v);
      break;
    }
  }
}

double LinearModel::ClampToLabels(double v) const {
  // Prediction clamping: never far outside the labels seen so far (by more
  // than half their range).
  if (label_min_ > label_max_) return v;
  const double margin = 0.5 * (label_max_ - label_min_);
  return std::clamp(v, label_min_ - margin, label_max_ + margin);
}

void LinearModel::Predict(const ExampleView& x, ScoreBuffers& buffers,
                          Prediction& out) const {
  const ServedWeights served = Served();
  if (served == ServedWeights::kLeastSquares) {
    // The fit has learned no hashed feature, and neither have the rule's
    // weights: both score x's dense part alone.
    buffers.z.resize(x.dense.size());
    out.scores.clear();
    out.value = ClampToLabels(least_squares_.Score(x.dense, buffers.z.data()));
    return;
  }
  if (served == ServedWeights::kKalman) {  // it too has no hashed feature
    buffers.z.resize(config_.num_features);
    buffers.scores.resize(outputs_);
    Standardize(x, buffers.z.data());
    buffers.kalman.resize(kalman_.ScratchSize());
    kalman_.Score(buffers.z.data(), buffers.scores.data(),
                  buffers.kalman.data());
    ToPrediction(buffers.scores.data(), out);
    return;
  }
  Score(x, buffers, served == ServedWeights::kAveraged);
  if (served == ServedWeights::kAveraged) {
    AverageScores(buffers, buffers.scores.data(), buffers.scores.data());
  }
  ToPrediction(buffers.scores.data(), out);
}

MetricsSummary LinearModel::metrics() const {
  MetricsSummary m = metrics_.Summary();
  m.skipped_updates = skipped_updates_;
  m.drifts_detected = drift_.drifts_detected();
  m.last_drift_version = drift_.last_drift_version();
  return m;
}

double LinearModel::SparseWeight(uint32_t slot, uint32_t k) const {
  const double* t = table_.Find(slot);
  return t == nullptr ? 0 : t[k * kStride];
}

size_t LinearModel::SparseNonZeros() const {
  size_t n = 0;
  for (size_t slot = 0; slot < table_.slots(); ++slot) {
    const double* t = table_.Find(slot);
    if (t == nullptr) continue;
    for (uint32_t k = 0; k < outputs_; ++k) n += t[k * kStride] != 0;
  }
  return n;
}

LinearModel LinearModel::FromParameters(const ModelConfig& config,
                                        RunningStats feature_stats,
                                        RunningStats label_stats,
                                        Eigen::MatrixXd weights,
                                        Eigen::VectorXd bias,
                                        const ExampleBatch& data) {
  LinearModel model(config);
  model.feature_stats_ = std::move(feature_stats);
  model.label_stats_ = std::move(label_stats);
  model.ComputeScale();
  const uint32_t d = config.num_features;
  for (uint32_t k = 0; k < model.outputs_; ++k) {
    for (uint32_t j = 0; j < d; ++j) {
      model.dense_[model.DenseIndex(k, j)] = weights(k, j);
    }
    model.dense_[model.DenseIndex(k, d)] = bias[k];
  }
  model.FtrlStateFromWeights();  // so that ftrl continues from the fit
  if (!model.rls_.empty()) {
    model.rls_ =
        RlsState::FromData(d, *config.rls_ridge, *config.rls_forgetting, data,
                           model.dense_.data());
  }
  if (!data.sparse_hashes.empty()) {
    // Dense fits cannot take hashed features.
    model.least_squares_.Retire();
    model.kalman_.Retire();
  } else if (model.kalman_.active()) {
    // Centred on the fitted weights, which serve live now.
    model.kalman_ = KalmanCompanion::FromData(
        d, model.outputs_, data, {model.feature_stats_.mean().data(), d},
        model.inv_std_,
        std::vector<double>(model.dense_.begin(),
                            model.dense_.begin() + model.plane_));
  } else if (model.least_squares_.active()) {
    // Centred on the fitted function in raw space, which serves live now.
    const RawLinearFunction raw = model.RawFunction();
    std::vector<double> w(d + 1);
    for (uint32_t j = 0; j < d; ++j) w[j] = raw.weights(0, j);
    w[d] = raw.bias[0];
    model.least_squares_ =
        LeastSquaresCompanion::FromData(d, data, std::move(w));
  }
  return model;
}

void LinearModel::FtrlStateFromWeights() {
  if (config_.optimizer != Optimizer::kFtrl) return;
  const double l1 = *config_.l1, l2 = *config_.l2;
  const double alpha = *config_.learning_rate, beta = *config_.ftrl_beta;
  const uint32_t d = config_.num_features;
  double* const a = dense_.data() + plane_;
  for (uint32_t k = 0; k < outputs_; ++k) {
    for (uint32_t j = 0; j <= d; ++j) {
      const size_t i = DenseIndex(k, j);
      // The bias is not regularized.
      a[i] = j < d ? FtrlRule::StateFor(dense_[i], l1, l2, alpha, beta)
                   : FtrlRule::StateFor(dense_[i], 0, 0, alpha, beta);
    }
  }
  for (size_t slot = 0; slot < table_.slots(); ++slot) {
    if (table_.Find(slot) == nullptr) continue;
    double* c = table_.Mutable(slot);
    for (uint32_t k = 0; k < outputs_; ++k) {
      double* t = c + k * kStride;
      t[1] = FtrlRule::StateFor(t[0], l1, l2, alpha, beta);
    }
  }
}

RawLinearFunction LinearModel::RawFunction() const {
  const uint32_t d = config_.num_features;
  RawLinearFunction f{Eigen::MatrixXd(outputs_, d), Eigen::VectorXd(outputs_)};
  const ServedWeights served = Served();
  if (served == ServedWeights::kLeastSquares) {  // fitted to raw x and y
    const std::vector<double>& w = least_squares_.weights();
    for (uint32_t j = 0; j < d; ++j) f.weights(0, j) = w[j];
    f.bias[0] = w[d];
    return f;
  }
  for (uint32_t k = 0; k < outputs_; ++k) {
    for (uint32_t j = 0; j <= d; ++j) {
      double w = dense_[DenseIndex(k, j)];
      if (served == ServedWeights::kAveraged) w = AveragedDenseWeight(k, j);
      if (served == ServedWeights::kKalman) {
        w = kalman_.weights()[DenseIndex(k, j)];
      }
      if (j < d) {
        f.weights(k, j) = w;
      } else {
        f.bias[k] = w;
      }
    }
  }
  if (!config_.standardize) return f;
  const Eigen::Map<const Eigen::RowVectorXd> inv_std(inv_std_.data(), d);
  f.weights = f.weights.array().rowwise() * inv_std.array();
  f.bias = f.bias - f.weights * feature_stats_.mean();
  if (StandardizesTarget()) {
    const double sy = label_stats_.SafeStd(0);
    f.weights *= sy;
    f.bias = (f.bias * sy).array() + label_stats_.mean()[0];
  }
  return f;
}

}  // namespace streamfit
