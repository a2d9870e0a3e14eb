// Running mean and variance of a vector of features (Welford's algorithm),
// used to standardize raw inputs online.
#ifndef STREAMFIT_CORE_MODEL_RUNNING_STATS_H_
#define STREAMFIT_CORE_MODEL_RUNNING_STATS_H_

#include <Eigen/Core>
#include <cstdint>
#include <span>

namespace streamfit {

// A value type; not thread-safe.
class RunningStats {
 public:
  RunningStats() = default;
  explicit RunningStats(int dim);

  // Adds one observation x (dim values).
  void Add(std::span<const float> x);
  void Add(double x);  // dim 1

  int64_t count() const { return count_; }
  const Eigen::VectorXd& mean() const { return mean_; }
  const Eigen::VectorXd& m2() const { return m2_; }
  // Population standard deviation per coordinate; 1 where it is 0 (constant
  // so far), so that dividing by it is always safe.
  Eigen::VectorXd SafeStd() const;
  double SafeStd(int j) const;

  // z = (x - mean) / SafeStd, written into z.
  void Standardize(std::span<const float> x, Eigen::VectorXd& z) const;

  // Restores a state written by count()/mean()/m2().
  static RunningStats FromState(int64_t count, Eigen::VectorXd mean,
                                Eigen::VectorXd m2);

 private:
  int64_t count_ = 0;
  Eigen::VectorXd mean_;
  Eigen::VectorXd m2_;  // sum of squared deviations from the mean
};

}  // namespace streamfit

#endif  // STREAMFIT_CORE_MODEL_RUNNING_STATS_H_
