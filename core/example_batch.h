// Labeled dense examples in one contiguous row-major block, the unit in which
// samples travel from the edge to a learner.
#ifndef STREAMFIT_CORE_EXAMPLE_BATCH_H_
#define STREAMFIT_CORE_EXAMPLE_BATCH_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "core/model_config.h"

namespace streamfit {

// A value type. Row i's features are values[i*num_features,
// (i+1)*num_features). Weights are importance weights (1 = an ordinary sample).
struct ExampleBatch {
  uint32_t num_features = 0;
  std::vector<float> values;
  std::vector<double> labels;
  std::vector<float> weights;

  size_t size() const { return labels.size(); }
  std::span<const float> row(size_t i) const {
    return {values.data() + i * num_features, num_features};
  }
  // Appends one example; `features` must have num_features entries.
  void Add(std::span<const float> features, double label, float weight = 1);
};

// OK if every example fits `config`: the right feature count, finite features,
// a finite label valid for the task, a finite non-negative weight. Otherwise
// INVALID_ARGUMENT naming the first bad example and field, for example
// "example 3: features.dense[2] is NaN".
absl::Status ValidateBatch(const ExampleBatch& batch,
                           const ModelConfig& config);

// OK if `features` (one input row) fits `config`; errors name `index` as
// "features 3: dense[2] is inf".
absl::Status ValidateFeatures(std::span<const float> features,
                              const ModelConfig& config, size_t index);

}  // namespace streamfit

#endif  // STREAMFIT_CORE_EXAMPLE_BATCH_H_
