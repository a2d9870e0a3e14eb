// The dense part of a linear score, shared by every scorer of a model so
// that equal weights and inputs give bit-equal scores.
#ifndef STREAMFIT_CORE_MODEL_DENSE_SCORE_H_
#define STREAMFIT_CORE_MODEL_DENSE_SCORE_H_

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace streamfit {

// Every score is kept within +-kMaxScore and a NaN score (possible only with
// weights far beyond what learning from valid inputs produces) counts as 0,
// so predictions, losses and the metric sums built from them stay finite:
// a model never serves NaN.
inline constexpr double kMaxScore = 1e100;
inline double BoundedScore(double s) {
  return std::isnan(s) ? 0 : std::clamp(s, -kMaxScore, kMaxScore);
}

// w[d] + w . z over d inputs in four partial sums, so the additions do not
// wait on each other; a scorer may add more terms to them before Total().
struct PartialSums {
  double s0, s1, s2, s3;
  double Total() const { return (s0 + s1) + (s2 + s3); }
};
// With `c` (kWithAverage), also c[d] + c . z, added in index order into
// `c_sum` in the same pass over z: the score's part from the averaging
// accumulators c, laid out as w.
template <bool kWithAverage>
inline PartialSums DenseSums(const double* w, const double* c, const double* z,
                             uint32_t d, double* c_sum) {
  PartialSums s{w[d], 0, 0, 0};  // s0 from the bias
  double a = kWithAverage ? c[d] : 0;
  uint32_t j = 0;
  for (; j + 4 <= d; j += 4) {
    s.s0 += w[j] * z[j];
    s.s1 += w[j + 1] * z[j + 1];
    s.s2 += w[j + 2] * z[j + 2];
    s.s3 += w[j + 3] * z[j + 3];
    if constexpr (kWithAverage) {
      a += c[j] * z[j];
      a += c[j + 1] * z[j + 1];
      a += c[j + 2] * z[j + 2];
      a += c[j + 3] * z[j + 3];
    }
  }
  for (; j < d; ++j) {
    s.s0 += w[j] * z[j];
    if constexpr (kWithAverage) a += c[j] * z[j];
  }
  if constexpr (kWithAverage) *c_sum = a;
  return s;
}
inline PartialSums DenseSums(const double* w, const double* z, uint32_t d) {
  return DenseSums<false>(w, nullptr, z, d, nullptr);
}

}  // namespace streamfit

#endif  // STREAMFIT_CORE_MODEL_DENSE_SCORE_H_
