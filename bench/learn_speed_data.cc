#include "bench/learn_speed_data.h"

#include <random>
#include <vector>

#include "core/model/feature_hash.h"

namespace streamfit {

uint32_t DenseWidth(Shape shape) {
  switch (shape) {
    case Shape::kDense10:
      return 10;
    case Shape::kDense100:
      return 100;
    case Shape::kDense1000:
      return 1000;
    default:
      return 0;
  }
}

ExampleBatch MakeData(Shape shape, Task task) {
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0, 1);
  std::uniform_int_distribution<uint32_t> uniform(0, 99999);
  std::vector<double> zipf_weights(100000);
  for (size_t r = 0; r < zipf_weights.size(); ++r) {
    zipf_weights[r] = 1.0 / static_cast<double>(r + 1);
  }
  std::discrete_distribution<uint32_t> zipf(zipf_weights.begin(),
                                            zipf_weights.end());
  const auto word = [&] {
    return shape == Shape::kSparse30Zipf ? zipf(rng) : uniform(rng);
  };
  ExampleBatch batch;
  const uint32_t a = HashNamespace("a"), b = HashNamespace("b");
  if (const uint32_t d = DenseWidth(shape); d > 0) {
    batch.num_features = d;
    for (int i = 0; i < kExamples; ++i) {
      std::vector<float> x(d);
      float s = 0;
      for (uint32_t j = 0; j < d; ++j) {
        x[j] = normal(rng) * static_cast<float>(j % 10 + 1);
        s += (j % 2 ? 1 : -1) * x[j];
      }
      batch.Add(x, task == Task::kRegression ? s : (s > 0 ? 1 : 0));
    }
    return batch;
  }
  for (int i = 0; i < kExamples; ++i) {
    std::vector<uint32_t> hashes, namespaces;
    std::vector<float> values;
    for (int f = 0; f < 30; ++f) {
      const uint32_t ns = f < 15 ? a : b;
      hashes.push_back(HashFeatureIndex(ns, word()));
      namespaces.push_back(ns);
      values.push_back(1);
    }
    batch.Add(ExampleView{{}, hashes, namespaces, values}, i % 2);
  }
  return batch;
}

}  // namespace streamfit
