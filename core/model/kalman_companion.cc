#include "core/model/kalman_companion.h"

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/model/dense_score.h"
#include "core/model/loss.h"

namespace streamfit {
namespace {

using RowMajorMatrix =
    Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// pi / 8: sigmoid(s / sqrt(1 + pi v / 8)) approximates the mean of
// sigmoid(w . z~) over the filter's Gaussian, of variance v = z~ . P z~
// (MacKay 1992).
constexpr double kModeration = 0.39269908169872414;

// Filter c's target for `label`: its class against the rest, or the binary
// label itself for a model's single filter.
double Target(uint32_t filters, uint32_t c, double label) {
  return filters == 1 ? (label == 1 ? 1.0 : 0.0)
                      : (label == static_cast<double>(c) ? 1.0 : 0.0);
}

}  // namespace

bool KalmanCompanion::AppliesTo(const ModelConfig& config) {
  const bool logistic =
      (config.task == Task::kBinary && config.loss == LossKind::kLogistic) ||
      (config.task == Task::kMulticlass && config.loss == LossKind::kSoftmax);
  const uint64_t n = uint64_t{config.num_features} + 1;
  return config.serving == Serving::kAuto && logistic && config.standardize &&
         config.num_features >= 1 &&
         NumOutputs(config) * n * n <= kMaxCovarianceValues;
}

uint64_t KalmanCompanion::StateValues(const ModelConfig& config) {
  if (!AppliesTo(config)) return 0;
  const uint64_t n = uint64_t{config.num_features} + 1;
  // The covariances and weights; whether kept, the updates and the recent
  // loss.
  return NumOutputs(config) * (n * n + n) + 3;
}

KalmanCompanion::KalmanCompanion(uint32_t d, uint32_t filters)
    : filters_(filters) {
  const size_t n = size_t{d} + 1;
  v_.weights.assign(filters * n, 0.0);
  v_.covariance.assign(filters * n * n, 0.0);
  for (uint32_t c = 0; c < filters; ++c) ResetCovariance(c);
}

void KalmanCompanion::ResetCovariance(uint32_t c) {
  const size_t n = v_.weights.size() / filters_;
  double* p = v_.covariance.data() + c * n * n;
  std::fill(p, p + n * n, 0.0);
  for (size_t i = 0; i < n; ++i) p[i * n + i] = 1;
}

KalmanCompanion KalmanCompanion::FromData(uint32_t d, uint32_t filters,
                                          const ExampleBatch& data,
                                          std::span<const double> mean,
                                          std::span<const double> inv_std,
                                          std::vector<double> w) {
  const Eigen::Index n = Eigen::Index{d} + 1;
  std::vector<Eigen::MatrixXd> precision(filters,
                                         Eigen::MatrixXd::Identity(n, n));
  Eigen::VectorXd z(n);
  z[d] = 1;
  for (size_t i = 0; i < data.size(); ++i) {
    const std::span<const float> row = data.row(i);
    for (uint32_t j = 0; j < d; ++j) z[j] = (row[j] - mean[j]) * inv_std[j];
    for (uint32_t c = 0; c < filters; ++c) {
      const double p = Sigmoid(
          BoundedScore(Eigen::Map<const Eigen::VectorXd>(&w[c * n], n).dot(z)));
      precision[c].selfadjointView<Eigen::Lower>().rankUpdate(
          z, data.weights[i] * p * (1 - p));
    }
  }
  Values v{std::move(w), std::vector<double>(filters * n * n), 0};
  for (uint32_t c = 0; c < filters; ++c) {
    // The identity prior keeps the precision positive definite.
    Eigen::Map<RowMajorMatrix>(&v.covariance[c * n * n], n, n) =
        precision[c].selfadjointView<Eigen::Lower>().ldlt().solve(
            Eigen::MatrixXd::Identity(n, n));
  }
  return KalmanCompanion(filters, std::move(v));
}

KalmanCompanion::Values KalmanCompanion::Export() const {
  Values out = v_;
  if (!active()) return out;
  const Eigen::Index n =
      static_cast<Eigen::Index>(out.weights.size() / filters_);
  for (uint32_t c = 0; c < filters_; ++c) {
    Eigen::Map<RowMajorMatrix> p(&out.covariance[c * n * n], n, n);
    p.triangularView<Eigen::StrictlyUpper>() = p.transpose();
  }
  return out;
}

absl::StatusOr<KalmanCompanion> KalmanCompanion::FromValues(uint32_t d,
                                                            uint32_t filters,
                                                            Values values) {
  const size_t n = size_t{d} + 1;
  for (size_t c = 0; c < filters; ++c) {
    for (size_t i = 0; i < n; ++i) {
      const size_t at = c * n * n + i * n + i;
      if (!(values.covariance[at] > 0)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "diagonal entry [", at, "] of a covariance is not positive"));
      }
    }
  }
  return KalmanCompanion(filters, std::move(values));
}

void KalmanCompanion::Score(const double* z, double* scores,
                            double* scratch) const {
  const Eigen::Index n =
      static_cast<Eigen::Index>(v_.weights.size() / filters_);
  Eigen::Map<Eigen::VectorXd> x(scratch, n), u(scratch + n, n);
  std::copy(z, z + n - 1, x.data());
  x[n - 1] = 1;
  for (uint32_t c = 0; c < filters_; ++c) {
    const Eigen::Map<const RowMajorMatrix> p(&v_.covariance[c * n * n], n, n);
    u.noalias() = p.selfadjointView<Eigen::Lower>() * x;
    const double s =
        Eigen::Map<const Eigen::VectorXd>(&v_.weights[c * n], n).dot(x);
    scores[c] = BoundedScore(s / std::sqrt(1 + kModeration * u.dot(x)));
  }
}

void KalmanCompanion::Learn(const double* z, double label, double h,
                            double* scratch) {
  const Eigen::Index n =
      static_cast<Eigen::Index>(v_.weights.size() / filters_);
  Eigen::Map<Eigen::VectorXd> x(scratch, n), u(scratch + n, n);
  std::copy(z, z + n - 1, x.data());
  x[n - 1] = 1;
  v_.updates += 1;
  for (uint32_t c = 0; c < filters_; ++c) {
    Eigen::Map<RowMajorMatrix> p(&v_.covariance[c * n * n], n, n);
    Eigen::Map<Eigen::VectorXd> w(&v_.weights[c * n], n);
    u.noalias() = p.selfadjointView<Eigen::Lower>() * x;
    const double prob = Sigmoid(BoundedScore(w.dot(x)));
    const double g = prob * (1 - prob);
    const double denominator = 1 + h * g * u.dot(x);
    w += (h * (Target(filters_, c, label) - prob) / denominator) * u;
    p.selfadjointView<Eigen::Lower>().rankUpdate(u, -h * g / denominator);
    // In exact arithmetic P stays positive definite; rounding is watched.
    bool sound = std::isfinite(w.sum());
    for (Eigen::Index i = 0; i < n; ++i) sound = sound && p(i, i) > 0;
    if (!sound) {
      if (!std::isfinite(w.sum())) w.setZero();
      ResetCovariance(c);
    }
  }
}

void KalmanCompanion::Restart() {
  for (uint32_t c = 0; c < filters_; ++c) ResetCovariance(c);
  v_.updates = 0;
}

}  // namespace streamfit
