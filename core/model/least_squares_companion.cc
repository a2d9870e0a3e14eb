#include "core/model/least_squares_companion.h"

#include <Eigen/Core>
#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/model/dense_score.h"
#include "core/model/rules/rls.h"

namespace streamfit {
namespace {

// For n coordinates the weights are refreshed after each of the first
// kExactUpdates * n updates, then after every (kRefreshInterval * n)-th.
constexpr uint64_t kExactUpdates = 4;
constexpr uint64_t kRefreshInterval = 4;

using RowMajorMatrix =
    Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

}  // namespace

bool LeastSquaresCompanion::RefreshesAfter(uint64_t updates, uint32_t d) {
  // Early samples move the fit most; later ones each move it little.
  const uint64_t n = uint64_t{d} + 1;
  return updates <= kExactUpdates * n || updates % (kRefreshInterval * n) == 0;
}

uint64_t LeastSquaresCompanion::StateValues(const ModelConfig& config) {
  if (!AppliesTo(config)) return 0;
  const uint64_t n = uint64_t{config.num_features} + 1;
  // A, b, c and the weights; whether kept, the updates and the recent loss.
  return n * n + 3 * n + 3;
}

LeastSquaresCompanion::LeastSquaresCompanion(uint32_t d) {
  const size_t n = size_t{d} + 1;
  v_.gram.assign(n * n, 0.0);
  for (size_t i = 0; i < n; ++i) v_.gram[i * n + i] = kRidge;
  v_.moment.assign(n, 0.0);
  v_.prior_center.assign(n, 0.0);
  v_.weights.assign(n, 0.0);
}

LeastSquaresCompanion LeastSquaresCompanion::FromData(uint32_t d,
                                                      const ExampleBatch& data,
                                                      std::vector<double> w) {
  // The rls rule's batch start is this state plus an inverse not kept here.
  RlsState::Values rls =
      RlsState::FromData(d, kRidge, 1, data, w.data()).Export();
  return LeastSquaresCompanion(
      Values{std::move(rls.gram), std::move(rls.moment),
             std::move(rls.prior_center), std::move(w), 0});
}

LeastSquaresCompanion::Values LeastSquaresCompanion::Export() const {
  Values out = v_;
  if (active()) {
    const Eigen::Index n = static_cast<Eigen::Index>(out.weights.size());
    Eigen::Map<RowMajorMatrix> a(out.gram.data(), n, n);
    a.triangularView<Eigen::StrictlyUpper>() = a.transpose();
  }
  return out;
}

absl::StatusOr<LeastSquaresCompanion> LeastSquaresCompanion::FromValues(
    uint32_t d, Values values) {
  const size_t n = size_t{d} + 1;
  for (size_t i = 0; i < n; ++i) {
    if (!(values.gram[i * n + i] > 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("diagonal entry [", i * n + i,
                       "] of the Gram matrix is not positive"));
    }
  }
  return LeastSquaresCompanion(std::move(values));
}

double LeastSquaresCompanion::Score(std::span<const float> x, double* z) const {
  const uint32_t d = static_cast<uint32_t>(x.size());
  for (uint32_t j = 0; j < d; ++j) z[j] = x[j];
  return BoundedScore(DenseSums(v_.weights.data(), z, d).Total());
}

void LeastSquaresCompanion::Learn(std::span<const double> z, double label,
                                  double h, double* scratch) {
  const Eigen::Index n = static_cast<Eigen::Index>(v_.weights.size());
  Eigen::Map<Eigen::VectorXd> x(scratch, n);
  std::copy(z.begin(), z.end(), x.data());
  x[n - 1] = 1;
  Eigen::Map<RowMajorMatrix>(v_.gram.data(), n, n)
      .selfadjointView<Eigen::Lower>()
      .rankUpdate(x, h);
  Eigen::Map<Eigen::VectorXd>(v_.moment.data(), n) += (h * label) * x;
  v_.updates += 1;
  if (RefreshesAfter(static_cast<uint64_t>(v_.updates),
                     static_cast<uint32_t>(n - 1)) &&
      !SolveNormalEquations(static_cast<uint32_t>(n), v_.gram.data(),
                            v_.moment.data(), v_.prior_center.data(),
                            v_.weights.data(), nullptr)) {
    Restart();
  }
}

void LeastSquaresCompanion::Restart() {
  const size_t n = v_.weights.size();
  std::fill(v_.gram.begin(), v_.gram.end(), 0.0);
  for (size_t i = 0; i < n; ++i) {
    v_.gram[i * n + i] = kRidge;
    v_.moment[i] = kRidge * v_.weights[i];
  }
  v_.prior_center = v_.weights;
  v_.updates = 0;
}

}  // namespace streamfit
