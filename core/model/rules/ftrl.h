// The `ftrl` rule: FTRL-Proximal (McMahan et al. 2013, "Ad Click Prediction:
// a View from the Trenches", Algorithm 1), a = z and b = n per coordinate,
// alpha = learning_rate, beta = ftrl_beta, lambda1 = l1, lambda2 = l2:
//
//   g' = weight g x
//   sigma = (sqrt(n + g'^2) - sqrt(n)) / alpha
//   z += g' - sigma w;  n += g'^2
//   w = 0                                            if |z| <= lambda1
//     = -(z - sign(z) lambda1) / ((beta + sqrt(n)) / alpha + lambda2)
//
// so weights are exactly zero under L1. Keeps a (z) and b (n, non-negative).
// Both divisions by alpha are multiplications by p.inv_alpha (1 / alpha,
// taken once per update), which leaves each coordinate two square roots and
// one division: a division costs several multiplications.
// docs/LEARNING.md, "The update rules"; the kernel contract is in
// step_params.h.
#ifndef STREAMFIT_CORE_MODEL_RULES_FTRL_H_
#define STREAMFIT_CORE_MODEL_RULES_FTRL_H_

#include <cmath>

#include "core/model/model_config.h"
#include "core/model/rules/step_params.h"

namespace streamfit {

struct FtrlRule {
  static constexpr Optimizer kOptimizer = Optimizer::kFtrl;
  static constexpr bool kWritesA = true;
  static constexpr bool kWritesB = true;

  static void Step(double& w, double& a, double& b, double x, double g,
                   double l1, double l2, const StepParams& p) {
    const double gi = p.weight * g * x;
    const double n = b, n_new = n + gi * gi;
    const double sigma = (std::sqrt(n_new) - std::sqrt(n)) * p.inv_alpha;
    a += gi - sigma * w;
    b = n_new;
    const double z = a;
    w = std::abs(z) <= l1
            ? 0.0
            : -(z - (z > 0 ? l1 : -l1)) /
                  ((p.beta + std::sqrt(n_new)) * p.inv_alpha + l2);
  }

  // The z that, with n = 0, gives back the weight w by the closed form
  // above: the state of a coordinate whose weight was set from outside the
  // rule (a batch fit) or whose state was forgotten (the drift policy
  // reset), so that it continues from w rather than from 0. Its scale is
  // Step's, beta * (1 / alpha) + l2, rounded the same way.
  static double StateFor(double w, double l1, double l2, double alpha,
                         double beta) {
    if (w == 0) return 0;
    return -w * (beta * (1 / alpha) + l2) - (w > 0 ? l1 : -l1);
  }

  static void AddFiniteCheck(double w, double a, double b, double& check) {
    check += w - w;
    check += a - a;
    check += b - b;
  }
};

}  // namespace streamfit

#endif  // STREAMFIT_CORE_MODEL_RULES_FTRL_H_
