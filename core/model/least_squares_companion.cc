#include "core/model/least_squares_companion.h"

#include "core/model/dense_score.h"

namespace streamfit {

uint64_t LeastSquaresCompanion::StateValues(const ModelConfig& config) {
  if (!AppliesTo(config)) return 0;
  const uint64_t n = uint64_t{config.num_features} + 1;
  // P, A, b, c and the weights; the prior and the counts.
  return 2 * n * n + 3 * n + 4;
}

LeastSquaresCompanion::LeastSquaresCompanion(uint32_t d)
    : rls_(d, kRidge, 1), weights_(d + 1, 0.0) {}

double LeastSquaresCompanion::Score(std::span<const float> x, double* z) const {
  const uint32_t d = static_cast<uint32_t>(x.size());
  for (uint32_t j = 0; j < d; ++j) z[j] = x[j];
  return BoundedScore(DenseSums(weights_.data(), z, d).Total());
}

void LeastSquaresCompanion::Learn(std::span<const double> z, double label,
                                  double score, double h, double* scratch) {
  if (rls_.Update(z, label, score, h, static_cast<uint64_t>(updates_) + 1,
                  weights_.data(), scratch)) {
    updates_ += 1;
  }
}

void LeastSquaresCompanion::Restart() {
  rls_.Reset(weights_.data());
  updates_ = 0;
}

}  // namespace streamfit
