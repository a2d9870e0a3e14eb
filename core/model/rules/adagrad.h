// The `adagrad` rule: diagonal AdaGrad (Duchi, Hazan, Singer 2011, "Adaptive
// Subgradient Methods for Online Learning and Stochastic Optimization"),
// a = G, the sum of squared gradients:
//
//   g' = weight g x + l2 w;  G += g'^2;  w -= eta g' / sqrt(G)
//   then w <- soft(w, eta l1 / sqrt(G))
//
// Keeps a (G, non-negative); b untouched. docs/LEARNING.md, "The update
// rules"; the kernel contract is in step_params.h.
#ifndef STREAMFIT_CORE_MODEL_RULES_ADAGRAD_H_
#define STREAMFIT_CORE_MODEL_RULES_ADAGRAD_H_

#include <cmath>

#include "core/model/model_config.h"
#include "core/model/rules/step_params.h"

namespace streamfit {

struct AdagradRule {
  static constexpr Optimizer kOptimizer = Optimizer::kAdagrad;
  static constexpr bool kWritesA = true;
  static constexpr bool kWritesB = false;

  static void Step(double& w, double& a, double& /*b*/, double x, double g,
                   double l1, double l2, const StepParams& p) {
    const double gi = p.weight * g * x + l2 * w;
    a += gi * gi;
    if (a > 0) {
      const double r = p.eta / std::sqrt(a);
      w -= r * gi;
      if (l1 > 0) w = SoftThreshold(w, r * l1);
    }
  }

  static void AddFiniteCheck(double w, double a, double /*b*/, double& check) {
    check += w - w;
    check += a - a;
  }
};

}  // namespace streamfit

#endif  // STREAMFIT_CORE_MODEL_RULES_ADAGRAD_H_
