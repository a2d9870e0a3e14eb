// The `normalized` rule (the default): normalized adaptive updates of Ross,
// Mineiro, Langford 2013 ("Normalized Online Learning"), as Vowpal Wabbit's
// `--adaptive --normalized` (without `--invariant`). Per coordinate a = G
// (sum of weighted squared gradients) and b = s (largest |x| seen); globally
// N = sum weight * sum_i (x_i / s_i)^2 and T = sum weight, kept in the
// model. ModelTrainer first takes each active coordinate's |x| into its s
// (TakeScale) and then sets p.rate = eta weight sqrt(T / N):
//
//   each active i: if |x_i| > s_i, w_i *= s_i / |x_i| (if s_i > 0), s_i = |x_i|
//   g' = g x + l2 w;  G += weight g'^2
//   w -= p.rate g' / (sqrt(G) s);  then w <- soft(w, same rate * l1)
//
// Keeps a (G) and b (s), both non-negative; s is a largest |x|, finite as
// inputs are, so the finite check covers w and a. docs/LEARNING.md, "The
// update rules"; the kernel contract is in step_params.h.
#ifndef STREAMFIT_CORE_MODEL_RULES_NORMALIZED_H_
#define STREAMFIT_CORE_MODEL_RULES_NORMALIZED_H_

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "core/model/model_config.h"
#include "core/model/rules/step_params.h"

namespace streamfit {

struct NormalizedRule {
  static constexpr Optimizer kOptimizer = Optimizer::kNormalized;
  static constexpr bool kWritesA = true;
  static constexpr bool kWritesB = true;

  // Takes |x| into a coordinate's s (the same for every output), shrinking
  // the weights of the outputs it grows past; returns (x / s)^2, the
  // coordinate's share of N. Output k's weight and s are w[k * stride] and
  // s[k * stride].
  static double TakeScale(double* w, double* s, size_t stride, double x,
                          uint32_t outputs) {
    const double ax = std::abs(x);
    if (ax > s[0]) {
      for (uint32_t k = 0; k < outputs; ++k) {
        double& sk = s[k * stride];
        if (sk > 0) w[k * stride] *= sk / ax;
        sk = ax;
      }
    }
    const double xn = x / s[0];
    return xn * xn;
  }

  // b = s, already updated for this x by TakeScale.
  static void Step(double& w, double& a, double& b, double x, double g,
                   double l1, double l2, const StepParams& p) {
    const double gi = g * x + l2 * w;
    a += p.weight * gi * gi;
    if (a > 0) {
      const double r = p.rate / (std::sqrt(a) * b);
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

#endif  // STREAMFIT_CORE_MODEL_RULES_NORMALIZED_H_
