// The `sgd` rule: plain stochastic gradient descent with scikit-learn's
// SGDRegressor/SGDClassifier learning-rate schedules (constant, or
// learning_rate / t^power_t), the step capped per example so it never goes
// past fitting the example exactly under squared loss:
//
//   step = min(eta_t * weight, 1 / (|z|^2 + |u|^2 + 1))   (p.rate, per example)
//   w <- w - step (g x + l2 w);  then w <- soft(w, step l1)
//
// Keeps no optimizer values (a and b untouched). docs/LEARNING.md, "The
// update rules"; the kernel contract is in step_params.h.
#ifndef STREAMFIT_CORE_MODEL_RULES_SGD_H_
#define STREAMFIT_CORE_MODEL_RULES_SGD_H_

#include "core/model/model_config.h"
#include "core/model/rules/step_params.h"

namespace streamfit {

struct SgdRule {
  static constexpr Optimizer kOptimizer = Optimizer::kSgd;
  static constexpr bool kWritesA = false;
  static constexpr bool kWritesB = false;

  static void Step(double& w, double& /*a*/, double& /*b*/, double x, double g,
                   double l1, double l2, const StepParams& p) {
    w -= p.rate * (g * x + l2 * w);
    if (l1 > 0) w = SoftThreshold(w, p.rate * l1);
  }

  static void AddFiniteCheck(double w, double /*a*/, double /*b*/,
                             double& check) {
    check += w - w;
  }
};

}  // namespace streamfit

#endif  // STREAMFIT_CORE_MODEL_RULES_SGD_H_
