// Weighted regression samples from a noisy linear rule, and the ridge
// least-squares fit of them solved from the normal equations: for the tests
// of exact least squares (the rls rule, and the fit a model keeps beside its
// rule).
#ifndef STREAMFIT_TESTS_TESTING_WEIGHTED_SAMPLES_H_
#define STREAMFIT_TESTS_TESTING_WEIGHTED_SAMPLES_H_

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <cmath>
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "core/batch_trainer.h"
#include "core/model/example_batch.h"
#include "core/model/linear_model.h"
#include "core/model/model_config.h"
#include "core/model/model_trainer.h"

namespace streamfit::testing {

struct WeightedSample {
  std::vector<float> x;
  double y;
  double h;  // importance weight
};

// y = 3 + sum_j c_j x_j + noise (sd 0.1), with features of offset j and
// scale s_j: j + 1, or with `unlike_scales` 10^(j % 5 - 2) (1e-2 to 1e2)
// and c_j divided by s_j; importance weights in [0.5, 2]. From sample `flip`
// on (if >= 0) the weights c are negated.
inline std::vector<WeightedSample> LinearSamples(int n, uint32_t d,
                                                 uint32_t seed,
                                                 bool unlike_scales = false,
                                                 int flip = -1) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(0, 1);
  std::uniform_real_distribution<double> weight(0.5, 2);
  std::vector<WeightedSample> out;
  for (int i = 0; i < n; ++i) {
    const double sign = flip >= 0 && i >= flip ? -1 : 1;
    WeightedSample s{std::vector<float>(d), 3.0, weight(rng)};
    for (uint32_t j = 0; j < d; ++j) {
      const double scale =
          unlike_scales ? std::pow(10.0, static_cast<int>(j % 5) - 2) : j + 1.0;
      const double c = (j % 2 == 0 ? 1.5 : -0.5) / (unlike_scales ? scale : 1);
      s.x[j] = static_cast<float>(scale * normal(rng) + j);
      s.y += sign * c * s.x[j];
    }
    s.y += 0.1 * normal(rng);
    out.push_back(std::move(s));
  }
  return out;
}

// argmin_w sum_i h_i (y_i - w . (x_i, 1))^2 + ridge |w - center|^2 over the
// first `count` samples, the bias last.
inline Eigen::VectorXd RidgeFit(const std::vector<WeightedSample>& samples,
                                size_t count, uint32_t d, double ridge,
                                const Eigen::VectorXd& center) {
  Eigen::MatrixXd gram = ridge * Eigen::MatrixXd::Identity(d + 1, d + 1);
  Eigen::VectorXd moment = ridge * center;
  for (size_t i = 0; i < count; ++i) {
    Eigen::VectorXd x(d + 1);
    for (uint32_t j = 0; j < d; ++j) x[j] = samples[i].x[j];
    x[d] = 1;
    gram += samples[i].h * x * x.transpose();
    moment += samples[i].h * samples[i].y * x;
  }
  return gram.ldlt().solve(moment);
}

// A model of `config` fitted by least squares (the batch trainer) to the
// first `fitted` samples, which then learns the rest online.
inline absl::StatusOr<ModelTrainer> FittedThenLearned(
    const ModelConfig& config, const std::vector<WeightedSample>& samples,
    size_t fitted) {
  ExampleBatch data;
  data.num_features = config.num_features;
  for (size_t i = 0; i < fitted; ++i) {
    data.Add(samples[i].x, samples[i].y, samples[i].h);
  }
  FitOptions options;
  options.algorithm = FitAlgorithm::kLeastSquares;
  absl::StatusOr<LinearModel> model = Fit(config, data, options);
  if (!model.ok()) return model.status();
  ModelTrainer trainer(*std::move(model));
  for (size_t i = fitted; i < samples.size(); ++i) {
    trainer.Learn(samples[i].x, samples[i].y, samples[i].h);
  }
  return trainer;
}

}  // namespace streamfit::testing

#endif  // STREAMFIT_TESTS_TESTING_WEIGHTED_SAMPLES_H_
