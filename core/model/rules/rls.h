// The `rls` rule: recursive least squares, exact online least squares for
// dense regression (Plackett 1950; Haykin, "Adaptive Filter Theory",
// ch. 10). For inputs x~ = (x, 1) (n = d + 1 coordinates, the bias last),
// importance weights h, labels y and a forgetting factor lambda in (0, 1],
// after t samples the weights are the weighted ridge least-squares fit
//
//   w_t = argmin_w  sum_i lambda^(t-i) h_i (y_i - w . x~_i)^2
//                   + r_t |w - c|^2
//
// with prior strength r_t and prior center c (0 until a reset). The state is
// A = sum_i lambda^(t-i) h_i x~_i x~_i^T + r_t I, its inverse P, the moment
// b = sum_i lambda^(t-i) h_i y_i x~_i + r_t c, c and r. One sample is a
// symmetric matrix-vector product and two symmetric rank-one updates
// (Sherman-Morrison), O(n^2):
//
//   Px = P x~;  k = Px / (lambda / h + x~ . Px);  w += k (y - w . x~)
//   P = (P - k Px^T) / lambda;  A = lambda A + h x~ x~^T;
//   b = lambda b + h y x~;  r = lambda r
//
// Refactorization: after update 1, 2, 4, ... and then every
// kRefactorInterval, and whenever x~ . Px comes out negative (P has lost
// definiteness to rounding), the prior is topped up to `ridge` (A += (ridge
// - r) I, b += (ridge - r) c, r = ridge; a no-op without forgetting, which
// never decays it), P = A^-1 and w = A^-1 b are recomputed by an LDLT
// factorization, which also clears the rounding the recursion gathered. The
// factorization is of A with its diagonal scaled to 1, so that features of
// unlike scale are not mistaken for collinear ones; if that matrix's
// reciprocal condition number is below kMinReciprocalCondition (inputs
// truly collinear, such as a constant feature beside the bias), each
// diagonal entry of A first grows by kConditionRidge times itself. Save for
// that guard, w_t is always the exact minimizer above with r_t following
// these rules (tests/core/model/rls_test.cc checks it after every sample).
// docs/LEARNING.md, "Exact least squares".
#ifndef STREAMFIT_CORE_MODEL_RULES_RLS_H_
#define STREAMFIT_CORE_MODEL_RULES_RLS_H_

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "core/model/example_batch.h"

namespace streamfit {

// Solves the ridge normal equations A w = b for the n x n row-major Gram
// matrix A (its lower triangle read) as Refactor does below: an LDLT
// factorization of A with its diagonal scaled to 1 and, if that is
// ill-conditioned, the condition guard (A's diagonal and b grown by
// kConditionRidge times the diagonal, times `center` for b). Writes w and,
// unless `inverse` is null, P = A^-1 (n x n, symmetric); returns false and
// writes neither if a result would not be finite (A and b may then carry
// the guard's growth).
bool SolveNormalEquations(uint32_t n, double* gram, double* moment,
                          const double* center, double* w, double* inverse);

// The state of the rule above for one model. A value type; not thread-safe
// to write, safe to read from any number of threads.

class RlsState {
 public:
  // Dense inputs at most this wide: the state is 2 (d + 1)^2 doubles and a
  // sample costs about 2 (d + 1)^2 multiply-adds.
  static constexpr uint32_t kMaxFeatures = 256;
  static constexpr uint64_t kRefactorInterval = 1024;
  static constexpr double kMinReciprocalCondition = 1e-13;
  static constexpr double kConditionRidge = 1e-12;

  RlsState() = default;  // empty: a model of another rule
  // A new state for d dense features: A = ridge I, P = I / ridge.
  RlsState(uint32_t d, double ridge, double forgetting);

  bool empty() const { return n_ == 0; }

  // Learns one sample: x~ = (z, 1), label y, `score` = w . x~, importance
  // weight h > 0, `updates` the count of updates including this one. w has n
  // entries; scratch has room for 2 n. Returns false and changes nothing if
  // the new weights would not be finite.
  bool Update(std::span<const double> z, double label, double score, double h,
              uint64_t updates, double* w, double* scratch);
  // The state of a model whose weights w were fitted to `data` by a batch
  // trainer: A = ridge I + sum h x~ x~^T over `data`, and the prior centered
  // on w (b = A w, c = w), so later samples move w as if the model had
  // learned `data` first. Precondition: data passes ValidateBatch for an rls
  // config of d features. w may be rounded to A^-1 A w.
  static RlsState FromData(uint32_t d, double ridge, double forgetting,
                           const ExampleBatch& data, double* w);
  // Forgets what was learned, keeping the weights w as the prior's center:
  // A = ridge I, b = ridge w, c = w (the drift policy `reset`).
  void Reset(const double* w);

  // The state as tensors' values (P and A row-major, n x n, symmetric; b
  // and c of n) and back. FromValues takes arrays of those sizes with finite
  // values (LinearModel::FromState checks both) and reads the matrices'
  // lower triangles; INVALID_ARGUMENT for a non-positive diagonal entry or
  // r <= 0.
  struct Values {
    std::vector<double> inverse_gram, gram, moment, prior_center;
    double prior = 0;
  };
  Values Export() const;
  static absl::StatusOr<RlsState> FromValues(uint32_t d, double ridge,
                                             double forgetting, Values values);

 private:
  // Tops up the prior, guards the conditioning, sets P = A^-1 and
  // w = A^-1 b.
  void Refactor(double* w);

  uint32_t n_ = 0;
  double ridge_ = 0, forgetting_ = 1;
  // P and A are kept in their lower triangles (the upper ones are stale).
  Values v_;
};

}  // namespace streamfit

#endif  // STREAMFIT_CORE_MODEL_RULES_RLS_H_
