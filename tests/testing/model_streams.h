// Helpers for tests of a model's state and its learning: labeled streams
// of dense examples, configs, and one-line creation, learning and prediction.
#ifndef STREAMFIT_TESTS_TESTING_MODEL_STREAMS_H_
#define STREAMFIT_TESTS_TESTING_MODEL_STREAMS_H_

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <span>
#include <utility>
#include <vector>

#include "core/model/linear_model.h"
#include "core/model/model_config.h"
#include "core/model/model_trainer.h"
#include "tests/testing/status_matchers.h"

namespace streamfit::testing {

// A stream of labeled examples.
struct Stream {
  uint32_t num_features = 0;
  std::vector<std::vector<float>> x;
  std::vector<double> y;
  size_t size() const { return y.size(); }
};

inline ModelConfig Config(Task task, uint32_t num_features,
                          uint32_t num_classes = 0) {
  ModelConfig config;
  config.task = task;
  config.num_features = num_features;
  config.num_classes = num_classes;
  return config;
}

inline LinearModel MustCreate(const ModelConfig& config) {
  absl::StatusOr<LinearModel> model = LinearModel::Create(config);
  EXPECT_THAT(model, IsOk());
  return *std::move(model);
}

inline void LearnAll(ModelTrainer& trainer, const Stream& s, size_t begin,
                     size_t end) {
  for (size_t i = begin; i < end; ++i) trainer.Learn(s.x[i], s.y[i]);
}

inline Prediction PredictOf(const LinearModel& model,
                            std::span<const float> x) {
  Prediction p;
  model.Predict(x, p);
  return p;
}

inline  // Points labeled by the nearest of `num_classes` well separated
        // centers, or
    // for num_classes == 0 binary labels by the side of a hyperplane with a
    // margin.
    Stream
    SeparableStream(int n, uint32_t num_features, uint32_t num_classes,
                    uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(0, 1);
  Stream s;
  s.num_features = num_features;
  if (num_classes == 0) {
    while (static_cast<int>(s.size()) < n) {
      std::vector<float> x(num_features);
      double margin = 0.5;
      for (uint32_t j = 0; j < num_features; ++j) {
        x[j] = static_cast<float>(normal(rng) * 2 + 1);
        margin += (j % 2 == 0 ? 1.0 : -0.7) * x[j];
      }
      if (std::abs(margin) < 0.3) continue;
      s.x.push_back(std::move(x));
      s.y.push_back(margin > 0 ? 1 : 0);
    }
    return s;
  }
  std::uniform_int_distribution<uint32_t> klass(0, num_classes - 1);
  for (int i = 0; i < n; ++i) {
    const uint32_t k = klass(rng);
    std::vector<float> x(num_features);
    for (uint32_t j = 0; j < num_features; ++j) {
      const double center = (j % num_classes == k) ? 6.0 : 0.0;
      x[j] = static_cast<float>(center + normal(rng));
    }
    s.x.push_back(std::move(x));
    s.y.push_back(k);
  }
  return s;
}

}  // namespace streamfit::testing

#endif  // STREAMFIT_TESTS_TESTING_MODEL_STREAMS_H_
