#include "core/model/linear_model.h"

#include <algorithm>
#include <cmath>

#include "absl/status/statusor.h"
#include "core/model/feature_hash.h"
#include "core/model/rules/adagrad.h"
#include "core/model/rules/adam.h"
#include "core/model/rules/ftrl.h"
#include "core/model/rules/normalized.h"
#include "core/model/rules/sgd.h"
#include "core/model/rules/step_params.h"

namespace streamfit {
namespace {

// Poisson scores are clamped here before exponentiating.
constexpr double kMaxLogRate = 30;

// Every score is kept within +-kMaxScore and a NaN score (possible only with
// weights far beyond what learning from valid inputs produces) counts as 0,
// so predictions, losses and the metric sums built from them stay finite:
// a model never serves NaN.
constexpr double kMaxScore = 1e100;
inline double BoundedScore(double s) {
  return std::isnan(s) ? 0 : std::clamp(s, -kMaxScore, kMaxScore);
}

// Copies one output's values of a coordinate, {w, a, b}: three moves, where
// std::copy_n of them became a library memmove call per coordinate.
inline void CopyCoordinate(const double* from, double* to) {
  to[0] = from[0];
  to[1] = from[1];
  to[2] = from[2];
}

}  // namespace

LinearModel::LinearModel(const ModelConfig& config)
    : config_(config),
      loss_(LossSpecOf(config)),
      outputs_(NumOutputs(config)),
      plane_(static_cast<size_t>(NumOutputs(config)) *
             (config.num_features + 1)),
      dense_(3 * plane_, 0.0),
      table_(config.hash_bits, NumOutputs(config) * kStride),
      feature_stats_(config.num_features),
      inv_std_(config.num_features, 1.0),
      label_stats_(1),
      drift_(config.drift_detector) {
  dense_undo_.resize(dense_.size());
  for (const auto& [a, b] : config.interactions) {
    interactions_.emplace_back(HashNamespace(a), HashNamespace(b));
  }
  z_.resize(config.num_features);
  scores_.resize(outputs_);
  grad_.resize(outputs_);
}

absl::StatusOr<LinearModel> LinearModel::Create(const ModelConfig& config) {
  absl::StatusOr<ModelConfig> full = WithDefaults(config);
  if (!full.ok()) return full.status();
  return LinearModel(*full);
}

double LinearModel::LearningRate(uint64_t t) const {
  const double eta0 = *config_.learning_rate;
  if (config_.schedule == Schedule::kConstant) return eta0;
  const double power = *config_.power_t, td = static_cast<double>(t);
  if (power == 0.5) return eta0 / std::sqrt(td);
  if (power == 0.25) return eta0 / std::sqrt(std::sqrt(td));
  return eta0 / std::pow(td, power);
}

bool LinearModel::StandardizesTarget() const {
  return config_.task == Task::kRegression && config_.standardize &&
         loss_.kind != LossKind::kPoisson;
}

void LinearModel::Gather(const ExampleView& x, std::vector<uint32_t>& slots,
                         std::vector<double>& xs,
                         std::vector<uint32_t>& scratch) const {
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

void LinearModel::Score(const ExampleView& x, std::vector<double>& z,
                        std::vector<uint32_t>& slots, std::vector<double>& xs,
                        std::vector<uint32_t>& scratch, double* scores) const {
  const uint32_t d = config_.num_features;
  z.resize(d);
  if (config_.standardize) {
    const double* mean = feature_stats_.mean().data();
    for (uint32_t j = 0; j < d; ++j)
      z[j] = (x.dense[j] - mean[j]) * inv_std_[j];
  } else {
    for (uint32_t j = 0; j < d; ++j) z[j] = x.dense[j];
  }
  if (x.hashes.empty()) {  // dense only (interactions pair hashed features)
    slots.clear();
    xs.clear();
  } else {
    Gather(x, slots, xs, scratch);
  }
  for (uint32_t k = 0; k < outputs_; ++k) {
    const double* w = &dense_[DenseIndex(k, 0)];
    // Four partial sums, so the additions do not wait on each other.
    double s0 = w[d], s1 = 0, s2 = 0, s3 = 0;  // s0 from the bias
    uint32_t j = 0;
    for (; j + 4 <= d; j += 4) {
      s0 += w[j] * z[j];
      s1 += w[j + 1] * z[j + 1];
      s2 += w[j + 2] * z[j + 2];
      s3 += w[j + 3] * z[j + 3];
    }
    for (; j < d; ++j) s0 += w[j] * z[j];
    for (size_t f = 0; f < slots.size(); ++f) {
      if (const double* t = table_.Find(slots[f])) {
        (f % 2 == 0 ? s1 : s3) += t[k * kStride] * xs[f];
      }
    }
    scores[k] = BoundedScore((s0 + s1) + (s2 + s3));
  }
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
      // Prediction clamping: never far outside the labels seen so far (by
      // more than half their range).
      if (label_min_ <= label_max_) {
        const double margin = 0.5 * (label_max_ - label_min_);
        v = std::clamp(v, label_min_ - margin, label_max_ + margin);
      }
      out.value = v;
      break;
    }
  }
}

void LinearModel::Predict(const ExampleView& x, Prediction& out) const {
  std::vector<double> z, xs, scores(outputs_);
  std::vector<uint32_t> slots, scratch;
  Score(x, z, slots, xs, scratch, scores.data());
  ToPrediction(scores.data(), out);
}

MetricsSummary LinearModel::metrics() const {
  MetricsSummary m = metrics_.Summary();
  m.skipped_updates = skipped_updates_;
  m.drifts_detected = drift_.drifts_detected();
  m.last_drift_version = drift_.last_drift_version();
  return m;
}

void LinearModel::ForgetOptimizerState() {
  std::fill(dense_.begin() + plane_, dense_.end(), 0.0);  // planes a and b
  for (size_t slot = 0; slot < table_.slots(); ++slot) {
    if (table_.Find(slot) == nullptr) continue;
    double* c = table_.Mutable(slot);
    for (uint32_t k = 0; k < outputs_; ++k) {
      c[k * kStride + 1] = c[k * kStride + 2] = 0;
    }
  }
  steps_ = norm_sum_ = weight_sum_ = 0;
  beta1_t_ = beta2_t_ = 1;
}

void LinearModel::LearnBatch(const ExampleBatch& batch, size_t begin,
                             size_t end) {
  for (size_t i = begin; i < end; ++i) {
    Learn(batch.view(i), batch.labels[i], batch.weights[i]);
  }
}

void LinearModel::Learn(const ExampleView& x, double label, double weight) {
  ++version_;
  if (config_.standardize) {
    feature_stats_.Add(x.dense);
    const int64_t n = feature_stats_.count();
    if (n <= kExactScaleSamples || n % kScaleRefreshInterval == 0) {
      ComputeScale();
    }
  }
  Score(x, z_, slots_, xs_, scratch_, scores_.data());
  const bool regression = config_.task == Task::kRegression;
  if (regression && loss_.kind == LossKind::kPoisson) {
    scores_[0] = std::min(scores_[0], kMaxLogRate);
  }

  // Progressive validation on the prediction made before learning.
  double metric_loss;
  double target = label;
  bool learn = true;
  bool correct = false;
  double abs_error = 0;
  if (regression) {
    Prediction& p = prediction_;
    ToPrediction(scores_.data(), p);
    if (loss_.kind == LossKind::kSquared) {
      metric_loss = (p.value - label) * (p.value - label);
    } else if (loss_.kind == LossKind::kPoisson) {
      metric_loss = LossValue(loss_, scores_.data(), 1, label);
    } else {
      metric_loss = LossValue(loss_, &p.value, 1, label);
    }
    abs_error = std::abs(p.value - label);
    if (StandardizesTarget()) {
      // Until two distinct labels are seen, the running mean alone is the
      // model.
      learn = label_stats_.count() >= 2 && label_stats_.m2()[0] > 0;
      target = (label - label_stats_.mean()[0]) / label_stats_.SafeStd(0);
    }
    LossAndGradient(loss_, scores_.data(), 1, target, grad_.data());
  } else {
    metric_loss =
        LossAndGradient(loss_, scores_.data(), outputs_, label, grad_.data());
    // The decision, as ToPrediction makes it, from the scores alone.
    correct = config_.task == Task::kBinary
                  ? (scores_[0] >= 0) == (label == 1)
                  : std::max_element(scores_.begin(), scores_.end()) -
                            scores_.begin() ==
                        static_cast<ptrdiff_t>(label);
  }
  metrics_.Add(metric_loss, correct, abs_error);
  if (drift_.Add(metric_loss, version_) &&
      config_.drift_policy == DriftPolicy::kReset) {
    ForgetOptimizerState();
  }

  if (!config_.class_weights.empty()) {
    weight *= config_.class_weights[static_cast<size_t>(label)];
  }
  if (learn && weight > 0) {
    const double clip = *config_.max_gradient;
    if (clip > 0) {
      for (double& g : grad_) g = std::clamp(g, -clip, clip);
    }
    bool applied;
    switch (config_.optimizer) {
      case Optimizer::kSgd: {
        // Never step past the point that would fit this example exactly
        // under squared loss (eta * |(x, 1)|^2 <= 1): keeps SGD stable
        // however many features there are or however large the weight.
        double norm2 = 1.0;
        for (double v : z_) norm2 += v * v;
        for (double v : xs_) norm2 += v * v;
        const double step =
            std::min(LearningRate(version_) * weight, 1.0 / norm2);
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
      default:
        applied = Update<NormalizedRule>(weight, 0);
        break;
    }
    if (!applied) ++skipped_updates_;
  }
  if (regression) {
    if (label_min_ > label_max_) {
      label_min_ = label_max_ = label;
    } else {
      label_min_ = std::min(label_min_, label);
      label_max_ = std::max(label_max_, label);
    }
    label_stats_.Add(label);
  }
}

template <class Rule>
bool LinearModel::Update(double weight, double sgd_step) {
  static_assert(kStride == 3, "sparse slots hold {w, a, b} per output");
  const uint32_t d = config_.num_features;
  const double l1 = *config_.l1, l2 = *config_.l2;
  StepParams p{};
  p.weight = weight;
  p.rate = sgd_step;
  p.eta = *config_.learning_rate;
  p.alpha = p.eta;
  p.beta = *config_.ftrl_beta;
  const double old_steps = steps_, old_norm = norm_sum_, old_wsum = weight_sum_,
               old_b1 = beta1_t_, old_b2 = beta2_t_;
  steps_ += 1;
  if constexpr (Rule::kOptimizer == Optimizer::kAdam) {
    p.b1 = *config_.adam_beta1;
    p.b2 = *config_.adam_beta2;
    beta1_t_ *= p.b1;
    beta2_t_ *= p.b2;
    p.inv_c1 = 1 / (1 - beta1_t_);
    p.inv_c2 = 1 / (1 - beta2_t_);
  }

  // For a rollback: a copy of the dense values the rule writes (an update
  // visits every dense coordinate anyway) and a log of the sparse
  // coordinates, each with every output's values. A slot may come twice;
  // its first entry holds its values before the update.
  double* const w = dense_.data();
  double* const a = w + plane_;
  double* const b = a + plane_;
  const size_t row = static_cast<size_t>(d) + 1;  // between outputs
  // The planes the rule writes: w, then a, then b.
  const size_t written =
      plane_ * (Rule::kWritesB ? 3 : (Rule::kWritesA ? 2 : 1));
  std::copy_n(w, written, dense_undo_.data());
  // The normalized rule: each coordinate's scale takes in this example, as
  // it is logged; then the rate uses the normalized |x|^2 of this example.
  double norm_x = 0;
  if constexpr (Rule::kOptimizer == Optimizer::kNormalized) {
    norm_x = Rule::TakeScale(w + d, b + d, row, 1.0, outputs_);  // bias
    for (uint32_t j = 0; j < d; ++j) {
      if (z_[j] != 0) {
        norm_x += Rule::TakeScale(w + j, b + j, row, z_[j], outputs_);
      }
    }
  }
  const size_t per_coord = static_cast<size_t>(outputs_) * kStride;
  if (sparse_.size() < slots_.size()) {
    sparse_.resize(slots_.size());
    sparse_undo_.resize(slots_.size() * per_coord);
  }
  size_t n = 0;
  // Plain pointers: the log's stores of a double* could otherwise alias the
  // vectors' own pointers, which would then be reloaded per coordinate.
  const uint32_t* const slots = slots_.data();
  const double* const xs = xs_.data();
  SparseCoord* const log = sparse_.data();
  double* const undo = sparse_undo_.data();
  const size_t m = slots_.size();
  const uint32_t outputs = outputs_;
  for (size_t f = 0; f < m; ++f) {
    const double x = xs[f];
    if (x == 0) continue;
    double* c = table_.Mutable(slots[f]);
    log[n] = {c, x};
    double* old = undo + n * per_coord;
    if (outputs == 1) {
      CopyCoordinate(c, old);
    } else {
      for (uint32_t k = 0; k < outputs; ++k) {
        CopyCoordinate(c + k * kStride, old + k * kStride);
      }
    }
    if constexpr (Rule::kOptimizer == Optimizer::kNormalized) {
      norm_x += Rule::TakeScale(c, c + 2, kStride, x, outputs);
    }
    ++n;
  }
  if constexpr (Rule::kOptimizer == Optimizer::kNormalized) {
    norm_sum_ += weight * norm_x;
    weight_sum_ += weight;
    p.rate = p.eta * weight * std::sqrt(weight_sum_ / norm_sum_);
  }

  double check = 0;  // stays 0 while every written value is finite
  for (uint32_t k = 0; k < outputs_; ++k) {
    const double g = grad_[k];
    double* const wk = w + k * row;
    double* const ak = a + k * row;
    double* const bk = b + k * row;
    for (uint32_t j = 0; j < d; ++j) {
      if (z_[j] == 0) continue;
      Rule::Step(wk[j], ak[j], bk[j], z_[j], g, l1, l2, p);
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
  if (check == 0 && std::isfinite(norm_sum_) && std::isfinite(weight_sum_)) {
    return true;
  }
  // Roll back; the log in reverse order, as a slot may appear more than once.
  while (n-- > 0) {
    std::copy_n(&sparse_undo_[n * per_coord], per_coord, sparse_[n].coord);
  }
  std::copy_n(dense_undo_.data(), written, w);
  steps_ = old_steps;
  norm_sum_ = old_norm;
  weight_sum_ = old_wsum;
  beta1_t_ = old_b1;
  beta2_t_ = old_b2;
  return false;
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
                                        Eigen::VectorXd bias) {
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
  return model;
}

RawLinearFunction LinearModel::RawFunction() const {
  const uint32_t d = config_.num_features;
  RawLinearFunction f{Eigen::MatrixXd(outputs_, d), Eigen::VectorXd(outputs_)};
  for (uint32_t k = 0; k < outputs_; ++k) {
    for (uint32_t j = 0; j < d; ++j) f.weights(k, j) = dense_[DenseIndex(k, j)];
    f.bias[k] = dense_[DenseIndex(k, d)];
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
