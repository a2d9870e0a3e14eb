#include "core/batch_trainer.h"

#include "absl/status/status.h"
#include "core/loss.h"
#include "core/status_macros.h"

namespace streamfit {
namespace {

// The design matrix (rows = examples) in the model's input space, and the
// targets in the model's output space.
struct Problem {
  Task task;
  Eigen::MatrixXd z;  // n x d
  Eigen::VectorXd targets;
  Eigen::VectorXd weights;  // importance weights, normalized to sum 1
  double l2;
};

struct Params {
  Eigen::MatrixXd w;  // k x d
  Eigen::VectorXd b;
};

double Objective(const Problem& p, const Params& x, Params* grad) {
  const Eigen::MatrixXd scores =
      (p.z * x.w.transpose()).rowwise() + x.b.transpose();  // n x k
  double total = 0.5 * p.l2 * x.w.squaredNorm();
  if (grad) {
    grad->w = p.l2 * x.w;
    grad->b = Eigen::VectorXd::Zero(x.b.size());
  }
  Eigen::VectorXd s, g;
  Eigen::MatrixXd g_rows(scores.rows(), scores.cols());
  for (Eigen::Index i = 0; i < scores.rows(); ++i) {
    s = scores.row(i).transpose();
    total += p.weights[i] * LossAndGradient(p.task, s, p.targets[i], g);
    g_rows.row(i) = p.weights[i] * g.transpose();
  }
  if (grad) {
    grad->w.noalias() += g_rows.transpose() * p.z;
    grad->b += g_rows.colwise().sum().transpose();
  }
  return total;
}

}  // namespace

absl::StatusOr<LinearModel> FitFullBatchGd(const ModelConfig& config_in,
                                           const ExampleBatch& data,
                                           const FullBatchGdOptions& options) {
  ASSIGN_OR_RETURN(const ModelConfig config, WithDefaults(config_in));
  RETURN_IF_ERROR(ValidateBatch(data, config));
  if (data.size() == 0) return absl::InvalidArgumentError("no examples");
  const int n = data.size(), d = config.num_features, k = NumOutputs(config);

  RunningStats feature_stats(d), label_stats(1);
  for (int i = 0; i < n; ++i) {
    if (config.standardize) feature_stats.Add(data.row(i));
    if (config.standardize && config.task == Task::kRegression) {
      label_stats.Add(data.labels[i]);
    }
  }
  Problem p{config.task, Eigen::MatrixXd(n, d), Eigen::VectorXd(n),
            Eigen::VectorXd(n), *config.l2};
  Eigen::VectorXd z;
  for (int i = 0; i < n; ++i) {
    if (config.standardize) {
      feature_stats.Standardize(data.row(i), z);
      p.z.row(i) = z.transpose();
    } else {
      for (int j = 0; j < d; ++j) p.z(i, j) = data.row(i)[j];
    }
    p.targets[i] = data.labels[i];
    if (config.standardize && config.task == Task::kRegression) {
      p.targets[i] =
          (data.labels[i] - label_stats.mean()[0]) / label_stats.SafeStd(0);
    }
    p.weights[i] = data.weights[i];
  }
  const double weight_sum = p.weights.sum();
  if (weight_sum <= 0) {
    return absl::InvalidArgumentError("every example has weight 0");
  }
  p.weights /= weight_sum;

  Params x{Eigen::MatrixXd::Zero(k, d), Eigen::VectorXd::Zero(k)};
  Params grad, trial;
  double f = Objective(p, x, &grad);
  double step = 1.0;
  for (int it = 0; it < options.max_iterations; ++it) {
    const double g2 = grad.w.squaredNorm() + grad.b.squaredNorm();
    if (std::sqrt(g2) < options.gradient_tolerance) break;
    // Armijo backtracking: f(x - t g) <= f(x) - t/2 |g|^2.
    step *= 2;
    double f_trial;
    for (;;) {
      trial.w = x.w - step * grad.w;
      trial.b = x.b - step * grad.b;
      f_trial = Objective(p, trial, nullptr);
      if (f_trial <= f - 0.5 * step * g2 || step < 1e-12) break;
      step *= 0.5;
    }
    if (!(f_trial <= f)) break;  // no descent possible: converged
    x = trial;
    f = Objective(p, x, &grad);
    if (options.on_iteration) options.on_iteration(it + 1, f);
  }
  return LinearModel::FromParameters(config, std::move(feature_stats),
                                     std::move(label_stats), std::move(x.w),
                                     std::move(x.b));
}

}  // namespace streamfit
