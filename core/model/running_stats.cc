#include "core/model/running_stats.h"

#include <cmath>

namespace streamfit {

RunningStats::RunningStats(int dim)
    : mean_(Eigen::VectorXd::Zero(dim)), m2_(Eigen::VectorXd::Zero(dim)) {}

void RunningStats::Add(std::span<const float> x) {
  ++count_;
  const double inv_n = 1.0 / static_cast<double>(count_);
  // Plain pointers that do not alias, so the loop vectorizes.
  double* __restrict mean = mean_.data();
  double* __restrict m2 = m2_.data();
  const float* __restrict in = x.data();
  for (Eigen::Index j = 0; j < mean_.size(); ++j) {
    const double delta = in[j] - mean[j];
    mean[j] += delta * inv_n;
    m2[j] += delta * (in[j] - mean[j]);
  }
}

void RunningStats::Add(double x) {
  ++count_;
  const double delta = x - mean_[0];
  mean_[0] += delta / static_cast<double>(count_);
  m2_[0] += delta * (x - mean_[0]);
}

double RunningStats::SafeStd(int j) const {
  if (count_ < 2) return 1.0;
  const double sd = std::sqrt(m2_[j] / static_cast<double>(count_));
  return sd > 1e-12 ? sd : 1.0;
}

Eigen::VectorXd RunningStats::SafeStd() const {
  Eigen::VectorXd sd(mean_.size());
  for (int j = 0; j < sd.size(); ++j) sd[j] = SafeStd(j);
  return sd;
}

void RunningStats::Standardize(std::span<const float> x,
                               Eigen::VectorXd& z) const {
  z.resize(mean_.size());
  for (int j = 0; j < z.size(); ++j) z[j] = (x[j] - mean_[j]) / SafeStd(j);
}

RunningStats RunningStats::FromState(int64_t count, Eigen::VectorXd mean,
                                     Eigen::VectorXd m2) {
  RunningStats s;
  s.count_ = count;
  s.mean_ = std::move(mean);
  s.m2_ = std::move(m2);
  return s;
}

}  // namespace streamfit
