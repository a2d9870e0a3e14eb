#include "core/model/rules/rls.h"

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace streamfit {
namespace {

using RowMajorMatrix =
    Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Whether P and w are recomputed from A and b after `updates` updates.
bool RefactorsAt(uint64_t updates) {
  return (updates & (updates - 1)) == 0 ||
         updates % RlsState::kRefactorInterval == 0;
}

}  // namespace

RlsState::RlsState(uint32_t d, double ridge, double forgetting)
    : n_(d + 1), ridge_(ridge), forgetting_(forgetting) {
  const std::vector<double> zero(n_, 0.0);
  Reset(zero.data());
}

void RlsState::Reset(const double* w) {
  const size_t n = n_;
  v_.inverse_gram.assign(n * n, 0.0);
  v_.gram.assign(n * n, 0.0);
  v_.moment.assign(w, w + n);
  v_.prior_center.assign(w, w + n);
  for (size_t i = 0; i < n; ++i) {
    v_.inverse_gram[i * n + i] = 1 / ridge_;
    v_.gram[i * n + i] = ridge_;
    v_.moment[i] *= ridge_;
  }
  v_.prior = ridge_;
}

RlsState RlsState::FromData(uint32_t d, double ridge, double forgetting,
                            const ExampleBatch& data, double* w) {
  RlsState state(d, ridge, forgetting);
  const uint32_t n = state.n_;
  Eigen::MatrixXd gram = ridge * Eigen::MatrixXd::Identity(n, n);
  Eigen::VectorXd x(n);
  x[d] = 1;
  for (size_t i = 0; i < data.size(); ++i) {
    const std::span<const float> row = data.row(i);
    for (uint32_t j = 0; j < d; ++j) x[j] = row[j];
    gram.selfadjointView<Eigen::Lower>().rankUpdate(x, data.weights[i]);
  }
  gram.triangularView<Eigen::StrictlyUpper>() = gram.transpose();
  const Eigen::Map<const Eigen::VectorXd> weights(w, n);
  Eigen::Map<RowMajorMatrix>(state.v_.gram.data(), n, n) = gram;
  Eigen::Map<Eigen::VectorXd>(state.v_.moment.data(), n) = gram * weights;
  state.v_.prior_center.assign(w, w + n);
  state.Refactor(w);
  return state;
}

bool SolveNormalEquations(uint32_t n, double* gram, double* moment,
                          const double* center, double* w, double* inverse) {
  Eigen::Map<RowMajorMatrix> a(gram, n, n);
  Eigen::Map<Eigen::VectorXd> b(moment, n);
  const Eigen::Map<const Eigen::VectorXd> c(center, n);
  // Factored with its diagonal scaled to 1 (Jacobi equilibration), so the
  // condition check sees collinear inputs, not inputs of unlike scale.
  const Eigen::VectorXd scale = a.diagonal().cwiseSqrt().cwiseInverse();
  Eigen::LDLT<Eigen::MatrixXd> ldlt(scale.asDiagonal() * a *
                                    scale.asDiagonal());
  if (ldlt.info() != Eigen::Success ||
      !(ldlt.rcond() >= RlsState::kMinReciprocalCondition)) {
    // A ridge relative to each coordinate's own scale.
    const Eigen::VectorXd more = RlsState::kConditionRidge * a.diagonal();
    a.diagonal() += more;
    b += more.cwiseProduct(c);
    ldlt.compute(scale.asDiagonal() * a * scale.asDiagonal());
  }
  // w = S (S A S)^-1 S b and, if asked for, P = S (S A S)^-1 S.
  const Eigen::VectorXd fit =
      scale.cwiseProduct(ldlt.solve(scale.cwiseProduct(b)));
  if (!fit.allFinite()) return false;
  if (inverse != nullptr) {
    Eigen::MatrixXd p =
        scale.asDiagonal() * ldlt.solve(Eigen::MatrixXd(scale.asDiagonal()));
    p = (0.5 * (p + p.transpose())).eval();
    if (!p.allFinite()) return false;
    Eigen::Map<RowMajorMatrix>(inverse, n, n) = p;
  }
  Eigen::Map<Eigen::VectorXd>(w, n) = fit;
  return true;
}

void RlsState::Refactor(double* w) {
  if (v_.prior < ridge_) {  // the top-up
    const uint32_t n = n_;
    Eigen::Map<RowMajorMatrix> a(v_.gram.data(), n, n);
    Eigen::Map<Eigen::VectorXd> b(v_.moment.data(), n);
    a.diagonal().array() += ridge_ - v_.prior;
    b += (ridge_ - v_.prior) *
         Eigen::Map<const Eigen::VectorXd>(v_.prior_center.data(), n);
    v_.prior = ridge_;
  }
  if (!SolveNormalEquations(n_, v_.gram.data(), v_.moment.data(),
                            v_.prior_center.data(), w,
                            v_.inverse_gram.data())) {
    Reset(w);
  }
}

bool RlsState::Update(std::span<const double> z, double label, double score,
                      double h, uint64_t updates, double* w, double* scratch) {
  const uint32_t n = n_, d = n - 1;
  Eigen::Map<RowMajorMatrix> p(v_.inverse_gram.data(), n, n);
  Eigen::Map<RowMajorMatrix> a(v_.gram.data(), n, n);
  Eigen::Map<Eigen::VectorXd> b(v_.moment.data(), n);
  Eigen::Map<Eigen::VectorXd> weights(w, n), px(scratch, n), x(scratch + n, n);
  std::copy(z.begin(), z.end(), x.data());
  x[d] = 1;
  // P and A are symmetric: only their lower triangles are read and written.
  const auto multiply = [&] {
    px.noalias() = p.selfadjointView<Eigen::Lower>() * x;
    return x.dot(px);
  };
  double xpx = multiply();
  if (!(xpx >= 0 && std::isfinite(xpx))) {  // P lost definiteness
    Refactor(w);
    score = x.dot(weights);
    xpx = multiply();
    if (!(xpx >= 0 && std::isfinite(xpx))) return false;
  }
  const double lambda = forgetting_;
  const double denom = lambda / h + xpx;
  const double step = (label - score) / denom;
  if (!(weights + step * px).allFinite()) return false;
  weights += step * px;

  p.selfadjointView<Eigen::Lower>().rankUpdate(px, -1 / denom);
  b *= lambda;
  if (lambda != 1) {
    p.triangularView<Eigen::Lower>() *= 1 / lambda;
    a.triangularView<Eigen::Lower>() *= lambda;
    v_.prior *= lambda;
  }
  a.selfadjointView<Eigen::Lower>().rankUpdate(x, h);
  b += (h * label) * x;
  // A and b stay finite for inputs within kMaxAbsValue (docs/LEARNING.md,
  // "Exact least squares"), and so does P in exact arithmetic; should
  // rounding ever overflow P, the state is forgotten rather than kept.
  if (!p.allFinite()) {
    Reset(w);
  } else if (RefactorsAt(updates)) {
    Refactor(w);
  }
  return true;
}

RlsState::Values RlsState::Export() const {
  Values out = v_;
  const uint32_t n = n_;
  for (std::vector<double>* m : {&out.inverse_gram, &out.gram}) {
    Eigen::Map<RowMajorMatrix> full(m->data(), n, n);
    full.triangularView<Eigen::StrictlyUpper>() = full.transpose();
  }
  return out;
}

absl::StatusOr<RlsState> RlsState::FromValues(uint32_t d, double ridge,
                                              double forgetting,
                                              Values values) {
  RlsState state(d, ridge, forgetting);
  const size_t n = state.n_;
  for (size_t i = 0; i < n; ++i) {
    if (!(values.inverse_gram[i * n + i] > 0) ||
        !(values.gram[i * n + i] > 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("diagonal entry [", i * n + i,
                       "] of the inverse Gram or Gram matrix is not positive"));
    }
  }
  if (!(values.prior > 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the prior is ", values.prior, ", must be finite and > 0"));
  }
  state.v_ = std::move(values);
  return state;
}

}  // namespace streamfit
