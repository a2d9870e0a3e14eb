#include "core/linear_model.h"

#include <algorithm>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/loss.h"

namespace streamfit {
namespace {

// The metric loss of a raw prediction: squared error for regression, log loss
// otherwise (the task loss itself).
double MetricLoss(Task task, const Eigen::VectorXd& scores, double estimate,
                  double label) {
  if (task == Task::kRegression) return (estimate - label) * (estimate - label);
  return Loss(task, scores, label);
}

std::vector<double> ToVector(const Eigen::MatrixXd& m) {
  // Row-major order.
  std::vector<double> v;
  v.reserve(m.size());
  for (int r = 0; r < m.rows(); ++r)
    for (int c = 0; c < m.cols(); ++c) v.push_back(m(r, c));
  return v;
}

const NamedTensor* Find(const std::vector<NamedTensor>& state,
                        absl::string_view name) {
  for (const auto& t : state)
    if (t.name == name) return &t;
  return nullptr;
}

absl::StatusOr<Eigen::MatrixXd> GetMatrix(const std::vector<NamedTensor>& state,
                                          absl::string_view name, int rows,
                                          int cols) {
  const NamedTensor* t = Find(state, name);
  if (t == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("state has no ", name));
  }
  if (t->values.size() != static_cast<size_t>(rows) * cols) {
    return absl::InvalidArgumentError(
        absl::StrCat("state ", name, " has ", t->values.size(),
                     " values, expected ", rows * cols));
  }
  Eigen::MatrixXd m(rows, cols);
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      const double v = t->values[static_cast<size_t>(r) * cols + c];
      if (!std::isfinite(v)) {
        return absl::InvalidArgumentError(
            absl::StrCat("state ", name, " holds a non-finite value"));
      }
      m(r, c) = v;
    }
  }
  return m;
}

}  // namespace

LinearModel::LinearModel(const ModelConfig& config)
    : config_(config),
      weights_(Eigen::MatrixXd::Zero(NumOutputs(config), config.num_features)),
      bias_(Eigen::VectorXd::Zero(NumOutputs(config))),
      feature_stats_(config.num_features),
      label_stats_(1) {}

absl::StatusOr<LinearModel> LinearModel::Create(const ModelConfig& config) {
  absl::StatusOr<ModelConfig> full = WithDefaults(config);
  if (!full.ok()) return full.status();
  return LinearModel(*full);
}

double LinearModel::LearningRate(uint64_t t) const {
  const double eta0 = *config_.learning_rate;
  if (config_.schedule == Schedule::kConstant) return eta0;
  return eta0 / std::pow(static_cast<double>(t), *config_.power_t);
}

void LinearModel::Score(std::span<const float> x, Eigen::VectorXd& z,
                        Eigen::VectorXd& scores) const {
  if (config_.standardize) {
    feature_stats_.Standardize(x, z);
  } else {
    z = Eigen::Map<const Eigen::VectorXf>(x.data(), x.size()).cast<double>();
  }
  scores.noalias() = weights_ * z;
  scores += bias_;
}

void LinearModel::ToPrediction(const Eigen::VectorXd& scores,
                               Prediction& out) const {
  out.scores.clear();
  switch (config_.task) {
    case Task::kBinary:
      out.value = Sigmoid(scores[0]);
      break;
    case Task::kMulticlass: {
      Eigen::VectorXd probs;
      Softmax(scores, probs);
      Eigen::Index best;
      probs.maxCoeff(&best);
      out.value = static_cast<double>(best);
      out.scores.assign(probs.data(), probs.data() + probs.size());
      break;
    }
    default:
      out.value = config_.standardize ? label_stats_.mean()[0] +
                                            label_stats_.SafeStd(0) * scores[0]
                                      : scores[0];
      break;
  }
}

void LinearModel::Predict(std::span<const float> x, Prediction& out) const {
  Eigen::VectorXd z, scores;
  Score(x, z, scores);
  ToPrediction(scores, out);
}

void LinearModel::Learn(std::span<const float> x, double label, double weight) {
  ++version_;
  if (config_.standardize) feature_stats_.Add(x);
  Score(x, z_, scores_);

  // Progressive validation on the prediction made before learning.
  Prediction& p = prediction_;
  ToPrediction(scores_, p);
  const bool regression = config_.task == Task::kRegression;
  const bool correct = !regression && (config_.task == Task::kBinary
                                           ? (p.value >= 0.5) == (label == 1)
                                           : p.value == label);
  metrics_.Add(MetricLoss(config_.task, scores_, p.value, label), correct,
               regression ? std::abs(p.value - label) : 0);

  // The target in the model's own units (standardized for regression).
  double target = label;
  bool learn = true;
  if (regression && config_.standardize) {
    // Until two distinct labels are seen, the running mean alone is the model.
    learn = label_stats_.count() >= 2 && label_stats_.m2()[0] > 0;
    target = (label - label_stats_.mean()[0]) / label_stats_.SafeStd(0);
  }
  if (learn && weight > 0) {
    LossAndGradient(config_.task, scores_, target, grad_);
    // Never step past the point that would fit this example exactly under
    // squared loss (eta * |(z, 1)|^2 <= 1): keeps SGD stable however many
    // features there are or however large the importance weight.
    const double step = std::min(LearningRate(version_) * weight,
                                 1.0 / (z_.squaredNorm() + 1.0));
    if (grad_.allFinite()) {
      if (*config_.l2 > 0) weights_ *= 1.0 - step * *config_.l2;
      weights_.noalias() -= step * grad_ * z_.transpose();
      bias_ -= step * grad_;
    }
  }
  if (regression && config_.standardize) label_stats_.Add(label);
}

LinearModel LinearModel::FromParameters(const ModelConfig& config,
                                        RunningStats feature_stats,
                                        RunningStats label_stats,
                                        Eigen::MatrixXd weights,
                                        Eigen::VectorXd bias) {
  LinearModel model(config);
  model.feature_stats_ = std::move(feature_stats);
  model.label_stats_ = std::move(label_stats);
  model.weights_ = std::move(weights);
  model.bias_ = std::move(bias);
  return model;
}

RawLinearFunction LinearModel::RawFunction() const {
  RawLinearFunction f{weights_, bias_};
  if (!config_.standardize) return f;
  const Eigen::VectorXd sd = feature_stats_.SafeStd();
  f.weights = weights_.array().rowwise() / sd.transpose().array();
  f.bias = bias_ - f.weights * feature_stats_.mean();
  if (config_.task == Task::kRegression) {
    const double sy = label_stats_.SafeStd(0);
    f.weights *= sy;
    f.bias = (f.bias * sy).array() + label_stats_.mean()[0];
  }
  return f;
}

std::vector<NamedTensor> LinearModel::ExportState() const {
  const uint32_t k = NumOutputs(config_), d = config_.num_features;
  const ProgressiveMetrics::State m = metrics_.GetState();
  const uint32_t w = m.recent_loss.size();
  return {
      {"weights", {k, d}, ToVector(weights_)},
      {"bias", {k}, ToVector(bias_.transpose())},
      {"feature_count", {1}, {static_cast<double>(feature_stats_.count())}},
      {"feature_mean", {d}, ToVector(feature_stats_.mean().transpose())},
      {"feature_m2", {d}, ToVector(feature_stats_.m2().transpose())},
      {"label_count", {1}, {static_cast<double>(label_stats_.count())}},
      {"label_mean", {1}, {label_stats_.mean()[0]}},
      {"label_m2", {1}, {label_stats_.m2()[0]}},
      {"metric_sums",
       {5},
       {static_cast<double>(m.count), m.loss_sum, m.correct_sum, m.abs_sum,
        m.sq_sum}},
      {"metric_recent_loss", {w}, m.recent_loss},
      {"metric_recent_correct", {w}, m.recent_correct},
  };
}

absl::StatusOr<LinearModel> LinearModel::FromState(
    const ModelConfig& config, uint64_t version,
    const std::vector<NamedTensor>& state) {
  absl::StatusOr<LinearModel> model = Create(config);
  if (!model.ok()) return model.status();
  const int k = NumOutputs(model->config_), d = config.num_features;
  auto get = [&](absl::string_view name, int rows, int cols) {
    return GetMatrix(state, name, rows, cols);
  };
  absl::StatusOr<Eigen::MatrixXd> weights = get("weights", k, d),
                                  bias = get("bias", k, 1),
                                  fcount = get("feature_count", 1, 1),
                                  fmean = get("feature_mean", d, 1),
                                  fm2 = get("feature_m2", d, 1),
                                  lcount = get("label_count", 1, 1),
                                  lmean = get("label_mean", 1, 1),
                                  lm2 = get("label_m2", 1, 1),
                                  sums = get("metric_sums", 5, 1);
  for (const auto* s :
       {&weights, &bias, &fcount, &fmean, &fm2, &lcount, &lmean, &lm2, &sums}) {
    if (!s->ok()) return s->status();
  }
  const NamedTensor* recent_loss = Find(state, "metric_recent_loss");
  const NamedTensor* recent_correct = Find(state, "metric_recent_correct");
  if (recent_loss == nullptr || recent_correct == nullptr ||
      recent_loss->values.size() != recent_correct->values.size()) {
    return absl::InvalidArgumentError("state has no consistent recent metrics");
  }
  model->version_ = version;
  model->weights_ = *weights;
  model->bias_ = *bias;
  model->feature_stats_ = RunningStats::FromState(
      static_cast<int64_t>((*fcount)(0, 0)), *fmean, *fm2);
  model->label_stats_ = RunningStats::FromState(
      static_cast<int64_t>((*lcount)(0, 0)), *lmean, *lm2);
  const Eigen::MatrixXd& s = *sums;
  model->metrics_ = ProgressiveMetrics::FromState(
      {static_cast<uint64_t>(s(0, 0)), s(1, 0), s(2, 0), s(3, 0), s(4, 0),
       recent_loss->values, recent_correct->values});
  return model;
}

}  // namespace streamfit
