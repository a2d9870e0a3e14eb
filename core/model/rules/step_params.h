// What every update rule's per-coordinate kernel shares: the settings of one
// update, fixed for all coordinates of an example, and the proximal step of
// L1. The rules themselves are in this folder, one per header; each is a
// struct of static functions that ModelTrainer takes as a template parameter,
// so the rule is chosen once per example, never per coordinate.
//
// A kernel's contract: Step(w, a, b, x, g, l1, l2, p) moves one coordinate
// (its weight w and the two optimizer values a and b the rule keeps there)
// for input x and loss gradient g (d loss / d score, unweighted);
// AddFiniteCheck(w, a, b, check) adds to `check` a term that is 0 if the
// values the rule writes are finite and NaN otherwise (v - v is 0 for a
// finite v, NaN for an infinite or NaN one: no branch per coordinate), so
// `check` stays 0 only while every written value is finite. kWritesA and
// kWritesB say which optimizer values the rule writes (an update's rollback
// saves only those). Pure functions of their arguments: thread-safe.
#ifndef STREAMFIT_CORE_MODEL_RULES_STEP_PARAMS_H_
#define STREAMFIT_CORE_MODEL_RULES_STEP_PARAMS_H_

namespace streamfit {

// The settings of one update, fixed for all coordinates of an example.
struct StepParams {
  double weight;  // importance weight (times the class weight)
  double rate;    // sgd: the step; normalized: eta * weight * sqrt(T / N)
  double eta;
  double inv_alpha, beta;         // ftrl: 1 / alpha, beta
  double b1, b2, inv_c1, inv_c2;  // adam: betas, 1 / (1 - beta^t)
};

// sign(w) max(0, |w| - t): the proximal step of t |w|.
inline double SoftThreshold(double w, double t) {
  if (w > t) return w - t;
  if (w < -t) return w + t;
  return 0;
}

}  // namespace streamfit

#endif  // STREAMFIT_CORE_MODEL_RULES_STEP_PARAMS_H_
