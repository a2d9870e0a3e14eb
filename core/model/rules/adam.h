// The `adam` rule: Adam (Kingma & Ba 2015, "Adam: A Method for Stochastic
// Optimization"), a = m and b = v per coordinate, with a global step count t
// for the bias corrections (lazy: a sparse coordinate's moments move only
// when it is active). The model keeps b1^t and b2^t; ModelTrainer passes
// p.inv_c1 = 1 / (1 - b1^t), p.inv_c2 = 1 / (1 - b2^t):
//
//   g' = weight g x + l2 w
//   m = b1 m + (1 - b1) g';  v = b2 v + (1 - b2) g'^2
//   w -= eta (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + 1e-8)
//   then w <- soft(w, eta l1)
//
// Keeps a (m) and b (v, non-negative). docs/LEARNING.md, "The update rules";
// the kernel contract is in step_params.h.
#ifndef STREAMFIT_CORE_MODEL_RULES_ADAM_H_
#define STREAMFIT_CORE_MODEL_RULES_ADAM_H_

#include <cmath>

#include "core/model/model_config.h"
#include "core/model/rules/step_params.h"

namespace streamfit {

struct AdamRule {
  static constexpr Optimizer kOptimizer = Optimizer::kAdam;
  static constexpr bool kWritesA = true;
  static constexpr bool kWritesB = true;

  static void Step(double& w, double& a, double& b, double x, double g,
                   double l1, double l2, const StepParams& p) {
    const double gi = p.weight * g * x + l2 * w;
    a = p.b1 * a + (1 - p.b1) * gi;
    b = p.b2 * b + (1 - p.b2) * gi * gi;
    w -= p.eta * (a * p.inv_c1) / (std::sqrt(b * p.inv_c2) + 1e-8);
    if (l1 > 0) w = SoftThreshold(w, p.eta * l1);
  }

  static void AddFiniteCheck(double w, double a, double b, double& check) {
    check += w - w;
    check += a - a;
    check += b - b;
  }
};

}  // namespace streamfit

#endif  // STREAMFIT_CORE_MODEL_RULES_ADAM_H_
