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

// u = P x for the symmetric n x n matrix P (row-major), as a sum of P's
// rows (elementwise, so it vectorizes without reordering a sum); returns
// x . u.
double Spread(const double* __restrict p, const double* __restrict x, size_t n,
              double* __restrict u) {
  std::fill(u, u + n, 0.0);
  for (size_t j = 0; j < n; ++j) {
    const double xj = x[j];
    const double* row = p + j * n;
    for (size_t i = 0; i < n; ++i) u[i] += xj * row[i];
  }
  double v = 0;
  for (size_t i = 0; i < n; ++i) v += x[i] * u[i];
  return v;
}

// row -= a (ui u), elementwise (vectorized: row and u do not overlap).
void SubtractScaled(double* __restrict row, double a, double ui,
                    const double* __restrict u, size_t n) {
  for (size_t j = 0; j < n; ++j) row[j] -= a * (ui * u[j]);
}

double Dot(const double* a, const double* b, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

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
    const Eigen::MatrixXd inverse =
        precision[c].selfadjointView<Eigen::Lower>().ldlt().solve(
            Eigen::MatrixXd::Identity(n, n));
    Eigen::Map<RowMajorMatrix>(&v.covariance[c * n * n], n, n) =
        (inverse + inverse.transpose()) / 2;  // exactly symmetric
  }
  return KalmanCompanion(filters, std::move(v));
}

absl::StatusOr<KalmanCompanion> KalmanCompanion::FromValues(uint32_t d,
                                                            uint32_t filters,
                                                            Values values) {
  const Eigen::Index n = Eigen::Index{d} + 1;
  for (uint32_t c = 0; c < filters; ++c) {
    Eigen::Map<RowMajorMatrix> p(&values.covariance[c * n * n], n, n);
    p.triangularView<Eigen::StrictlyUpper>() = p.transpose();
    if (Eigen::LLT<Eigen::MatrixXd>(p).info() != Eigen::Success) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the covariance of filter ", c, " is not positive definite"));
    }
  }
  return KalmanCompanion(filters, std::move(values));
}

// The scratch of Score and Learn: z~, then per filter P z~, z~ . P z~ and
// w . z~.
size_t KalmanCompanion::ScratchSize() const {
  const size_t n = v_.weights.size() / filters_;
  return n + filters_ * (n + 2);
}

void KalmanCompanion::Score(const double* z, double* scores,
                            double* scratch) const {
  const size_t n = v_.weights.size() / filters_;
  double* const x = scratch;
  double* const u = scratch + n;
  double* const variance = u + filters_ * n;
  double* const score = variance + filters_;
  std::copy(z, z + n - 1, x);
  x[n - 1] = 1;
  for (uint32_t c = 0; c < filters_; ++c) {
    variance[c] = Spread(&v_.covariance[c * n * n], x, n, u + c * n);
    score[c] = Dot(&v_.weights[c * n], x, n);
    scores[c] =
        BoundedScore(score[c] / std::sqrt(1 + kModeration * variance[c]));
  }
}

void KalmanCompanion::Learn(double label, double h, const double* scratch) {
  const size_t n = v_.weights.size() / filters_;
  const double* const variance = scratch + n + filters_ * n;
  const double* const score = variance + filters_;
  v_.updates += 1;
  for (uint32_t c = 0; c < filters_; ++c) {
    double* const p = &v_.covariance[c * n * n];
    double* const w = &v_.weights[c * n];
    const double* const u = scratch + n + c * n;
    const double v = variance[c];
    const double prob = Sigmoid(BoundedScore(score[c]));
    const double g = prob * (1 - prob);
    const double denominator = 1 + h * g * v;
    const double step = h * (Target(filters_, c, label) - prob) / denominator;
    const double shrink = h * g / denominator;
    bool sound = true;
    for (size_t i = 0; i < n; ++i) {
      w[i] += step * u[i];
      sound = sound && std::isfinite(w[i]);
      // u_i u_j = u_j u_i exactly, so P stays exactly symmetric.
      SubtractScaled(p + i * n, shrink, u[i], u, n);
      sound = sound && p[i * n + i] > 0;
    }
    // In exact arithmetic P stays positive definite; rounding is watched.
    if (!sound) {
      if (!std::all_of(w, w + n, [](double wi) { return std::isfinite(wi); })) {
        std::fill(w, w + n, 0.0);
      }
      ResetCovariance(c);
    }
  }
}

void KalmanCompanion::Restart() {
  for (uint32_t c = 0; c < filters_; ++c) ResetCovariance(c);
  v_.updates = 0;
}

}  // namespace streamfit
