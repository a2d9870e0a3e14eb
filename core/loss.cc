#include "core/loss.h"

#include <cmath>

namespace streamfit {
namespace {

// log(1 + e^s) without overflow.
double Softplus(double s) {
  return s > 0 ? s + std::log1p(std::exp(-s)) : std::log1p(std::exp(s));
}

}  // namespace

double Sigmoid(double s) {
  if (s >= 0) return 1.0 / (1.0 + std::exp(-s));
  const double e = std::exp(s);
  return e / (1.0 + e);
}

void Softmax(const Eigen::VectorXd& scores, Eigen::VectorXd& probs) {
  probs = (scores.array() - scores.maxCoeff()).exp();
  probs /= probs.sum();
}

double LossAndGradient(Task task, const Eigen::VectorXd& scores, double label,
                       Eigen::VectorXd& grad) {
  switch (task) {
    case Task::kBinary: {
      const double s = scores[0];
      grad.resize(1);
      grad[0] = Sigmoid(s) - label;
      return Softplus(s) - label * s;
    }
    case Task::kMulticlass: {
      const int y = static_cast<int>(label);
      Softmax(scores, grad);
      const double max = scores.maxCoeff();
      const double log_z = max + std::log((scores.array() - max).exp().sum());
      grad[y] -= 1.0;
      return log_z - scores[y];
    }
    default: {
      const double r = scores[0] - label;
      grad.resize(1);
      grad[0] = r;
      return 0.5 * r * r;
    }
  }
}

double Loss(Task task, const Eigen::VectorXd& scores, double label) {
  Eigen::VectorXd grad;
  return LossAndGradient(task, scores, label, grad);
}

}  // namespace streamfit
