#include "core/model/model_trainer.h"

#include <algorithm>
#include <cmath>

#include "core/model/rules/adagrad.h"
#include "core/model/rules/adam.h"
#include "core/model/rules/ftrl.h"
#include "core/model/rules/normalized.h"
#include "core/model/rules/sgd.h"
#include "core/model/rules/step_params.h"

namespace streamfit {

absl::StatusOr<ModelTrainer> ModelTrainer::Create(const ModelConfig& config) {
  absl::StatusOr<LinearModel> model = LinearModel::Create(config);
  if (!model.ok()) return model.status();
  return ModelTrainer(*std::move(model));
}

ModelTrainer::ModelTrainer(LinearModel model)
    : model_(std::move(model)),
      grad_(model_.outputs_),
      dense_undo_(model_.dense_.size()),
      rls_scratch_(model_.rls_.empty() && !model_.least_squares_.active()
                       ? 0
                       : 2 * model_.plane_),
      raw_(model_.least_squares_.active() ? model_.config_.num_features : 0),
      kalman_scores_(model_.kalman_.active() ? model_.outputs_ : 0),
      kalman_scratch_(model_.kalman_.active() ? model_.kalman_.ScratchSize()
                                              : 0),
      avg_scores_(model_.outputs_) {}

double ModelTrainer::LearningRate(uint64_t t) const {
  const ModelConfig& config = model_.config_;
  const double eta0 = *config.learning_rate;
  if (config.schedule == Schedule::kConstant) return eta0;
  const double power = *config.power_t, td = static_cast<double>(t);
  if (power == 0.5) return eta0 / std::sqrt(td);
  if (power == 0.25) return eta0 / std::sqrt(std::sqrt(td));
  return eta0 / std::pow(td, power);
}

void ModelTrainer::ForgetOptimizerState() {
  LinearModel& m = model_;
  // Planes a and b.
  std::fill(m.dense_.begin() + m.plane_, m.dense_.end(), 0.0);
  for (size_t slot = 0; slot < m.table_.slots(); ++slot) {
    if (m.table_.Find(slot) == nullptr) continue;
    double* c = m.table_.Mutable(slot);
    for (uint32_t k = 0; k < m.outputs_; ++k) {
      c[k * kStride + 1] = c[k * kStride + 2] = 0;
    }
  }
  m.FtrlStateFromWeights();  // ftrl's weights follow from its state
  m.steps_ = m.norm_sum_ = m.weight_sum_ = 0;
  m.beta1_t_ = m.beta2_t_ = 1;
  if (!m.rls_.empty()) m.rls_.Reset(m.dense_.data());
  if (Averages(m.config_)) RestartAverage();
}

void ModelTrainer::RestartAverage() {
  LinearModel& m = model_;
  std::fill(m.avg_dense_.begin(), m.avg_dense_.end(), 0.0);
  m.avg_count_ = m.avg_weight_ = 0;
  // Hashed accumulators zeroed for an earlier average no longer count
  // (avg_block_start_); this example's update (version_) is the first of
  // the new average.
  m.avg_start_ = static_cast<double>(m.version_ - 1);
  // The new average starts as the live weights: it must earn its record.
  m.loss_avg_ = m.loss_live_;
}

double ModelTrainer::MetricLoss(const double* scores, double label,
                                bool& correct, double& abs_error) {
  const LinearModel& m = model_;
  correct = false;
  abs_error = 0;
  if (m.config_.task == Task::kRegression) {
    m.ToPrediction(scores, avg_prediction_);
    const double v = avg_prediction_.value;
    abs_error = std::abs(v - label);
    if (m.loss_.kind == LossKind::kSquared) return (v - label) * (v - label);
    if (m.loss_.kind == LossKind::kPoisson) {
      return LossValue(m.loss_, scores, 1, label);
    }
    return LossValue(m.loss_, &v, 1, label);
  }
  correct = m.config_.task == Task::kBinary
                ? (scores[0] >= 0) == (label == 1)
                : std::max_element(scores, scores + m.outputs_) - scores ==
                      static_cast<ptrdiff_t>(label);
  return LossValue(m.loss_, scores, m.outputs_, label);
}

bool ModelTrainer::TrackCompanionLoss(double loss, double updates,
                                      double& recent) {
  LinearModel& m = model_;
  constexpr double kRate = 1 / LinearModel::kAveragingLossHorizon;
  recent += kRate * (loss - recent);
  if (updates < LinearModel::kAveragingLossHorizon ||
      recent <= LinearModel::kAveragingRestartRatio * m.loss_live_) {
    return false;
  }
  // As a restarted average, the restarted companion must earn its record.
  recent = m.loss_live_;
  return true;
}

void ModelTrainer::TakeIntoAverage(size_t logged) {
  LinearModel& m = model_;
  const double a = m.avg_weight_;  // A_(T-1) for this, the T-th, update
  m.avg_count_ += 1;
  double weight = 1;  // a_T = T^kAveragingPower
  for (int i = 0; i < LinearModel::kAveragingPower; ++i) weight *= m.avg_count_;
  m.avg_weight_ += weight;
  if (a == 0) return;  // the first iterate adds nothing to c
  const double* const w = m.dense_.data();
  double* const c = m.avg_dense_.data();
  const double* const before = dense_undo_.data();
  for (size_t i = 0; i < m.plane_; ++i) c[i] += a * (w[i] - before[i]);
  if (logged == 0) return;
  const uint32_t outputs = m.outputs_;
  const size_t per_slot = m.table_.values_per_slot();
  const size_t accumulators = m.AccumulatorOffset();
  const SparseCoord* const log = sparse_.data();
  const double* const undo = sparse_undo_.data();
  // Each log entry holds its slot's values before the update, accumulators
  // included, so each sets the slot's c from them; a slot repeated in the
  // example was logged again after its first entry's scale step, and going
  // backwards its first entry, with the values before the update, sets c
  // last.
  if (outputs == 1) {  // the common case, without the outputs' loop
    for (size_t i = logged; i-- > 0;) {
      double* const values = log[i].coord;
      const double* const old = undo + i * per_slot;
      values[accumulators] = old[accumulators] + a * (values[0] - old[0]);
    }
    return;
  }
  for (size_t i = logged; i-- > 0;) {
    const double* now = log[i].coord;
    double* t = log[i].coord + accumulators;
    const double* old = undo + i * per_slot;
    for (uint32_t k = 0; k < outputs; ++k) {
      t[k] = old[accumulators + k] + a * (now[k * kStride] - old[k * kStride]);
    }
  }
}

void ModelTrainer::ZeroStaleAccumulators(uint32_t slot) {
  LinearModel& m = model_;
  m.avg_block_start_[slot >> m.table_.block_bits()] = m.avg_start_;
  const size_t per_slot = m.table_.values_per_slot();
  const size_t block_slots = size_t{1} << m.table_.block_bits();
  double* t = m.table_.MutableBlock(slot) + m.AccumulatorOffset();
  for (size_t s = 0; s < block_slots; ++s, t += per_slot) {
    std::fill_n(t, m.outputs_, 0.0);
  }
}

void ModelTrainer::LearnBatch(const ExampleBatch& batch, size_t begin,
                              size_t end) {
  for (size_t i = begin; i < end; ++i) {
    Learn(batch.view(i), batch.labels[i], batch.weights[i]);
  }
}

void ModelTrainer::Learn(const ExampleView& x, double label, double weight) {
  LinearModel& m = model_;
  ++m.version_;
  if (m.config_.standardize) {
    m.feature_stats_.Add(x.dense);
    const int64_t n = m.feature_stats_.count();
    if (n <= LinearModel::kExactScaleSamples ||
        n % LinearModel::kScaleRefreshInterval == 0) {
      m.ComputeScale();
    }
  }
  const bool averaging = Averages(m.config_);
  m.Score(x, buffers_, averaging);
  const bool regression = m.config_.task == Task::kRegression;
  if (regression && m.loss_.kind == LossKind::kPoisson) {
    buffers_.scores[0] = std::min(buffers_.scores[0], LinearModel::kMaxLogRate);
  }
  if (averaging) {
    m.AverageScores(buffers_, buffers_.scores.data(), avg_scores_.data());
    if (regression && m.loss_.kind == LossKind::kPoisson) {
      avg_scores_[0] = std::min(avg_scores_[0], LinearModel::kMaxLogRate);
    }
  }

  // Progressive validation on the prediction made before learning.
  double metric_loss;
  double target = label;
  bool learn = true;
  bool correct = false;
  double abs_error = 0;
  if (regression) {
    Prediction& p = prediction_;
    m.ToPrediction(buffers_.scores.data(), p);
    if (m.loss_.kind == LossKind::kSquared) {
      metric_loss = (p.value - label) * (p.value - label);
    } else if (m.loss_.kind == LossKind::kPoisson) {
      metric_loss = LossValue(m.loss_, buffers_.scores.data(), 1, label);
    } else {
      metric_loss = LossValue(m.loss_, &p.value, 1, label);
    }
    abs_error = std::abs(p.value - label);
    if (m.StandardizesTarget()) {
      // Until two distinct labels are seen, the running mean alone is the
      // model.
      learn = m.label_stats_.count() >= 2 && m.label_stats_.m2()[0] > 0;
      target = (label - m.label_stats_.mean()[0]) / m.label_stats_.SafeStd(0);
    }
    LossAndGradient(m.loss_, buffers_.scores.data(), 1, target, grad_.data());
  } else {
    metric_loss = LossAndGradient(m.loss_, buffers_.scores.data(), m.outputs_,
                                  label, grad_.data());
    // The decision, as m.ToPrediction makes it, from the scores alone.
    correct =
        m.config_.task == Task::kBinary
            ? (buffers_.scores[0] >= 0) == (label == 1)
            : std::max_element(buffers_.scores.begin(), buffers_.scores.end()) -
                      buffers_.scores.begin() ==
                  static_cast<ptrdiff_t>(label);
  }
  // The least-squares fit's estimate, before learning (a fit kept only for
  // dense examples: the first with hashed features retires it).
  LeastSquaresCompanion& ls = m.least_squares_;
  if (ls.active() && !x.hashes.empty()) ls.Retire();
  double ls_score = 0, ls_loss = 0, ls_abs_error = 0;
  if (ls.active()) {
    ls_score = ls.Score(x.dense, raw_.data());
    const double v = m.ClampToLabels(ls_score);
    ls_loss = (v - label) * (v - label);
    ls_abs_error = std::abs(v - label);
  }
  // So is the Kalman filter's, on the same standardized inputs.
  KalmanCompanion& kf = m.kalman_;
  if (kf.active() && !x.hashes.empty()) kf.Retire();
  double kf_loss = 0;
  bool kf_correct = false;
  if (kf.active()) {
    kf.Score(buffers_.z.data(), kalman_scores_.data(), kalman_scratch_.data());
    double unused;
    kf_loss = MetricLoss(kalman_scores_.data(), label, kf_correct, unused);
  }
  // The drift monitor watches the update rule's own weights: they learn at
  // the rule's steady rate, so a lasting rise of their loss is the stream
  // changing, where an average or a fit of the whole history absorbs a
  // change differently (and the fit can follow one within a few samples of
  // its restart, too soon for a detector to see).
  const double live_loss = metric_loss;
  if (averaging) {
    // Progressive validation of the served weights; the recent losses of
    // each decide which the next example is served by.
    bool avg_correct;
    double avg_abs_error;
    const double avg_loss =
        MetricLoss(avg_scores_.data(), label, avg_correct, avg_abs_error);
    switch (m.Served()) {
      case ServedWeights::kAveraged:
        metric_loss = avg_loss;
        correct = avg_correct;
        abs_error = avg_abs_error;
        break;
      case ServedWeights::kLeastSquares:
        metric_loss = ls_loss;
        abs_error = ls_abs_error;
        break;
      case ServedWeights::kKalman:
        metric_loss = kf_loss;
        correct = kf_correct;
        break;
      case ServedWeights::kLive:
        break;
    }
    constexpr double kRate = 1 / LinearModel::kAveragingLossHorizon;
    m.loss_live_ += kRate * (live_loss - m.loss_live_);
    m.loss_avg_ += kRate * (avg_loss - m.loss_avg_);
    // An average well behind the live weights (after a change, or still
    // dragged by the first iterates) starts afresh; so does a least-squares
    // fit or a Kalman filter, which weighs every sample since its start
    // alike and so would never leave a regime the stream has left.
    if (m.avg_count_ >= LinearModel::kAveragingLossHorizon &&
        m.loss_avg_ > LinearModel::kAveragingRestartRatio * m.loss_live_) {
      RestartAverage();
    }
    if (ls.active() &&
        TrackCompanionLoss(ls_loss, ls.updates(), m.least_squares_loss_)) {
      ls.Restart();
    }
    if (kf.active() &&
        TrackCompanionLoss(kf_loss, kf.updates(), m.kalman_loss_)) {
      kf.Restart();
      // What the restarted filter learns this sample from.
      kf.Score(buffers_.z.data(), kalman_scores_.data(),
               kalman_scratch_.data());
    }
  }
  m.metrics_.Add(metric_loss, correct, abs_error);
  if (m.drift_.Add(live_loss, m.version_) &&
      m.config_.drift_policy == DriftPolicy::kReset) {
    ForgetOptimizerState();
  }

  if (!m.config_.class_weights.empty()) {
    weight *= m.config_.class_weights[static_cast<size_t>(label)];
  }
  if (learn && weight > 0) {
    const double clip = *m.config_.max_gradient;
    if (clip > 0) {
      for (double& g : grad_) g = std::clamp(g, -clip, clip);
    }
    bool applied;
    switch (m.config_.optimizer) {
      case Optimizer::kSgd: {
        // Never step past the point that would fit this example exactly
        // under squared loss (eta * |(x, 1)|^2 <= 1): keeps SGD stable
        // however many features there are or however large the weight.
        double norm2 = 1.0;
        for (double v : buffers_.z) norm2 += v * v;
        for (double v : buffers_.xs) norm2 += v * v;
        const double step =
            std::min(LearningRate(m.version_) * weight, 1.0 / norm2);
        applied = Update<SgdRule>(weight, step);
        break;
      }
      case Optimizer::kAdagrad:
        applied = Update<AdagradRule>(weight, 0);
        break;
      case Optimizer::kFtrl:
        applied = Update<FtrlRule>(weight, 0);
        break;
      case Optimizer::kAdam:
        applied = Update<AdamRule>(weight, 0);
        break;
      case Optimizer::kRls:
        applied = m.rls_.Update(buffers_.z, label, buffers_.scores[0], weight,
                                static_cast<uint64_t>(m.steps_) + 1,
                                m.dense_.data(), rls_scratch_.data());
        if (applied) m.steps_ += 1;
        break;
      default:
        applied = Update<NormalizedRule>(weight, 0);
        break;
    }
    if (!applied) ++m.skipped_updates_;
  }
  if (ls.active() && weight > 0) {
    ls.Learn(raw_, label, weight, rls_scratch_.data());
  }
  if (kf.active() && weight > 0) {
    kf.Learn(label, weight, kalman_scratch_.data());
  }
  if (regression) {
    if (m.label_min_ > m.label_max_) {
      m.label_min_ = m.label_max_ = label;
    } else {
      m.label_min_ = std::min(m.label_min_, label);
      m.label_max_ = std::max(m.label_max_, label);
    }
    m.label_stats_.Add(label);
  }
}

template <class Rule>
bool ModelTrainer::Update(double weight, double sgd_step) {
  LinearModel& m = model_;
  static_assert(kStride == 3, "sparse slots hold {w, a, b} per output");
  const uint32_t d = m.config_.num_features;
  const double l1 = *m.config_.l1, l2 = *m.config_.l2;
  StepParams p{};
  p.weight = weight;
  p.rate = sgd_step;
  p.eta = *m.config_.learning_rate;
  p.inv_alpha = 1 / p.eta;
  p.beta = *m.config_.ftrl_beta;
  const double old_steps = m.steps_, old_norm = m.norm_sum_,
               old_wsum = m.weight_sum_, old_b1 = m.beta1_t_,
               old_b2 = m.beta2_t_;
  m.steps_ += 1;
  if constexpr (Rule::kOptimizer == Optimizer::kAdam) {
    p.b1 = *m.config_.adam_beta1;
    p.b2 = *m.config_.adam_beta2;
    m.beta1_t_ *= p.b1;
    m.beta2_t_ *= p.b2;
    p.inv_c1 = 1 / (1 - m.beta1_t_);
    p.inv_c2 = 1 / (1 - m.beta2_t_);
  }

  // For a rollback: a copy of the dense values the rule writes (an update
  // visits every dense coordinate anyway) and a log of the sparse
  // coordinates, each with every output's values. A slot may come twice;
  // its first entry holds its values before the update.
  double* const w = m.dense_.data();
  double* const a = w + m.plane_;
  double* const b = a + m.plane_;
  const size_t row = static_cast<size_t>(d) + 1;  // between outputs
  const double* const z = buffers_.z.data();
  // The planes the rule writes: w, then a, then b.
  const size_t written =
      m.plane_ * (Rule::kWritesB ? 3 : (Rule::kWritesA ? 2 : 1));
  std::copy_n(w, written, dense_undo_.data());
  // The normalized rule: each coordinate's scale takes in this example, as
  // it is logged; then the rate uses the normalized |x|^2 of this example.
  double norm_x = 0;
  if constexpr (Rule::kOptimizer == Optimizer::kNormalized) {
    norm_x = Rule::TakeScale(w + d, b + d, row, 1.0, m.outputs_);  // bias
    for (uint32_t j = 0; j < d; ++j) {
      if (z[j] != 0) {
        norm_x += Rule::TakeScale(w + j, b + j, row, z[j], m.outputs_);
      }
    }
  }
  // A slot's values, its accumulators (averaging) included.
  const size_t per_slot = m.table_.values_per_slot();
  if (sparse_.size() < buffers_.slots.size()) {
    sparse_.resize(buffers_.slots.size());
    sparse_undo_.resize(buffers_.slots.size() * per_slot);
  }
  const bool averaging = Averages(m.config_);
  // Accumulators left from an earlier average become zeros before the log
  // copies them. (After a restart since Score, the average has no weight:
  // this update adds nothing to it, and the next Score looks.)
  if (averaging && buffers_.stale_accumulators) {
    for (const uint32_t slot : buffers_.slots) {
      if (!m.AccumulatorsCurrent(slot)) ZeroStaleAccumulators(slot);
    }
  }
  size_t n = 0;
  // Plain pointers: the log's stores of a double* could otherwise alias the
  // vectors' own pointers, which would then be reloaded per coordinate.
  const uint32_t* const slots = buffers_.slots.data();
  const double* const xs = buffers_.xs.data();
  SparseCoord* const log = sparse_.data();
  double* const undo = sparse_undo_.data();
  const size_t active = buffers_.slots.size();
  const uint32_t outputs = m.outputs_;
  for (size_t f = 0; f < active; ++f) {
    const double x = xs[f];
    if (x == 0) continue;
    double* c = m.table_.Mutable(slots[f]);
    log[n] = {c, x};
    CopySlotValues(c, undo + n * per_slot, per_slot);
    if constexpr (Rule::kOptimizer == Optimizer::kNormalized) {
      norm_x += Rule::TakeScale(c, c + 2, kStride, x, outputs);
    }
    ++n;
  }
  if constexpr (Rule::kOptimizer == Optimizer::kNormalized) {
    m.norm_sum_ += weight * norm_x;
    m.weight_sum_ += weight;
    p.rate = p.eta * weight * std::sqrt(m.weight_sum_ / m.norm_sum_);
  }

  double check = 0;  // stays 0 while every written value is finite
  for (uint32_t k = 0; k < m.outputs_; ++k) {
    const double g = grad_[k];
    double* const wk = w + k * row;
    double* const ak = a + k * row;
    double* const bk = b + k * row;
    for (uint32_t j = 0; j < d; ++j) {
      if (z[j] == 0) continue;
      Rule::Step(wk[j], ak[j], bk[j], z[j], g, l1, l2, p);
      Rule::AddFiniteCheck(wk[j], ak[j], bk[j], check);
    }
    // The bias, unregularized.
    Rule::Step(wk[d], ak[d], bk[d], 1.0, g, 0, 0, p);
    Rule::AddFiniteCheck(wk[d], ak[d], bk[d], check);
    for (size_t i = 0; i < n; ++i) {
      double* t = log[i].coord + k * kStride;
      Rule::Step(t[0], t[1], t[2], log[i].x, g, l1, l2, p);
      Rule::AddFiniteCheck(t[0], t[1], t[2], check);
    }
  }
  if (check == 0 && std::isfinite(m.norm_sum_) &&
      std::isfinite(m.weight_sum_)) {
    if (averaging) TakeIntoAverage(n);
    return true;
  }
  // Roll back; the log in reverse order, as a slot may appear more than once.
  while (n-- > 0) CopySlotValues(undo + n * per_slot, log[n].coord, per_slot);
  std::copy_n(dense_undo_.data(), written, w);
  m.steps_ = old_steps;
  m.norm_sum_ = old_norm;
  m.weight_sum_ = old_wsum;
  m.beta1_t_ = old_b1;
  m.beta2_t_ = old_b2;
  return false;
}

}  // namespace streamfit
