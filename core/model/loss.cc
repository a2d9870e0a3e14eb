#include "core/model/loss.h"

#include <algorithm>
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

LossSpec LossSpecOf(const ModelConfig& config) {
  LossSpec spec;
  spec.kind = config.loss;
  if (spec.kind == LossKind::kUnspecified) {
    spec.kind = config.task == Task::kBinary       ? LossKind::kLogistic
                : config.task == Task::kMulticlass ? LossKind::kSoftmax
                                                   : LossKind::kSquared;
  }
  spec.huber_delta = config.huber_delta.value_or(1);
  spec.quantile_tau = config.quantile_tau.value_or(0.5);
  return spec;
}

double LossAndGradient(const LossSpec& spec, const double* s, int num_outputs,
                       double label, double* grad) {
  switch (spec.kind) {
    case LossKind::kHuber: {
      const double r = s[0] - label, d = spec.huber_delta;
      if (std::abs(r) <= d) {
        grad[0] = r;
        return 0.5 * r * r;
      }
      grad[0] = r > 0 ? d : -d;
      return d * (std::abs(r) - 0.5 * d);
    }
    case LossKind::kQuantile: {
      const double r = label - s[0], tau = spec.quantile_tau;
      grad[0] = r > 0 ? -tau : (r < 0 ? 1 - tau : 0);
      return r >= 0 ? tau * r : (tau - 1) * r;
    }
    case LossKind::kPoisson: {
      const double rate = std::exp(s[0]);
      grad[0] = rate - label;
      return rate - label * s[0];
    }
    case LossKind::kLogistic: {
      // Sigmoid and Softplus, sharing one exponential: e = e^-|s|.
      const double e = std::exp(-std::abs(s[0]));
      const double sigmoid = s[0] >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
      const double softplus = s[0] > 0 ? s[0] + std::log1p(e) : std::log1p(e);
      grad[0] = sigmoid - label;
      return softplus - label * s[0];
    }
    case LossKind::kHinge: {
      const double t = 2 * label - 1;
      grad[0] = t * s[0] < 1 ? -t : 0;
      return std::max(0.0, 1 - t * s[0]);
    }
    case LossKind::kSoftmax: {
      const int y = static_cast<int>(label);
      double max = s[0];
      for (int k = 1; k < num_outputs; ++k) max = std::max(max, s[k]);
      double sum = 0;
      for (int k = 0; k < num_outputs; ++k) {
        grad[k] = std::exp(s[k] - max);
        sum += grad[k];
      }
      for (int k = 0; k < num_outputs; ++k) grad[k] /= sum;
      grad[y] -= 1.0;
      return max + std::log(sum) - s[y];
    }
    default: {
      const double r = s[0] - label;
      grad[0] = r;
      return 0.5 * r * r;
    }
  }
}

double LossValue(const LossSpec& spec, const double* s, int num_outputs,
                 double label) {
  // The two losses with a costly gradient, computed as LossAndGradient
  // computes them (the same operations in the same order, so the same
  // values) without it.
  switch (spec.kind) {
    case LossKind::kLogistic:
      return Softplus(s[0]) - label * s[0];
    case LossKind::kSoftmax: {
      double max = s[0];
      for (int k = 1; k < num_outputs; ++k) max = std::max(max, s[k]);
      double sum = 0;
      for (int k = 0; k < num_outputs; ++k) sum += std::exp(s[k] - max);
      return max + std::log(sum) - s[static_cast<int>(label)];
    }
    default: {
      double grad[1];  // the other losses have one output
      return LossAndGradient(spec, s, num_outputs, label, grad);
    }
  }
}

double Loss(Task task, const Eigen::VectorXd& scores, double label) {
  Eigen::VectorXd grad;
  return LossAndGradient(task, scores, label, grad);
}

}  // namespace streamfit
