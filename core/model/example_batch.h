// Labeled examples in flat arrays (dense rows row-major, sparse features in
// compressed-row form), the unit in which samples travel from the edge to a
// learner.
#ifndef STREAMFIT_CORE_MODEL_EXAMPLE_BATCH_H_
#define STREAMFIT_CORE_MODEL_EXAMPLE_BATCH_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "core/model/model_config.h"

namespace streamfit {

// One example's inputs, borrowed: dense values plus hashed sparse features
// (feature hash, namespace hash, value; see feature_hash.h), features of one
// namespace in any order.
struct ExampleView {
  std::span<const float> dense;
  std::span<const uint32_t> hashes;
  std::span<const uint32_t> namespaces;
  std::span<const float> values;
};

// A value type. Row i's dense features are values[i*num_features,
// (i+1)*num_features). Its sparse features are entries
// [sparse_offsets[i], sparse_offsets[i+1]) of sparse_hashes,
// sparse_namespaces and sparse_values; sparse_offsets is empty when no example
// has any. Weights are importance weights (1 = an ordinary sample).
struct ExampleBatch {
  uint32_t num_features = 0;
  std::vector<float> values;
  std::vector<double> labels;
  std::vector<float> weights;
  std::vector<uint32_t> sparse_offsets;
  std::vector<uint32_t> sparse_hashes;
  std::vector<uint32_t> sparse_namespaces;
  std::vector<float> sparse_values;

  size_t size() const { return labels.size(); }
  // Bytes its arrays hold: what the batch costs in a queue.
  size_t ByteSize() const;
  // Row i's dense features only; view(i) has all of them (learn from that).
  std::span<const float> row(size_t i) const {
    return {values.data() + i * num_features, num_features};
  }
  ExampleView view(size_t i) const {
    ExampleView v{row(i), {}, {}, {}};
    if (!sparse_offsets.empty()) {
      const size_t b = sparse_offsets[i], n = sparse_offsets[i + 1] - b;
      v.hashes = {sparse_hashes.data() + b, n};
      v.namespaces = {sparse_namespaces.data() + b, n};
      v.values = {sparse_values.data() + b, n};
    }
    return v;
  }
  // Appends one example; `features` must have num_features entries.
  void Add(std::span<const float> features, double label, float weight = 1);
  // Appends one example with sparse features (spans of equal length).
  void Add(const ExampleView& features, double label, float weight = 1);
  // Appends one sparse feature to the example that the next Add completes.
  void AddSparse(uint32_t hash, uint32_t ns, float value);
  // Room for `entries` sparse features over `examples` examples in all.
  void ReserveSparse(size_t examples, size_t entries);
};

// Inputs are bounded so that one example's work and every running sum of a
// model stay finite (docs/ARCHITECTURE.md, "Limits"):
// - every value (feature, label, importance weight) has |v| <= kMaxAbsValue.
//   With n < 2^64 samples the label variance sum is at most n (2 * 1e18)^2
//   < 1e57 and an interaction product at most 1e36 (its square 1e72), far
//   below DBL_MAX (1.8e308); a label of 1e308 would overflow the first.
// - an example has at most kMaxExampleCoordinates hashed coordinates (sparse
//   and named features plus the interaction pairs they form), and that
//   number times the model's outputs is at most kMaxExampleWork (the
//   coordinates one update touches).
inline constexpr double kMaxAbsValue = 1e18;
inline constexpr uint64_t kMaxExampleCoordinates = uint64_t{1} << 16;
inline constexpr uint64_t kMaxExampleWork = uint64_t{1} << 22;

// The hashed coordinates `x` gives a model with `config`: its sparse features
// plus the interaction pairs LinearModel forms from them.
uint64_t HashedCoordinates(const ExampleView& x, const ModelConfig& config);

// OK if every example fits `config`: the right feature count, features, label
// and weight within kMaxAbsValue, a label valid for the task, a non-negative
// weight, hashed coordinates within the limits above. Otherwise
// INVALID_ARGUMENT naming the first bad example and field, for example
// "example 3: features.dense[2] is NaN". Examples from `packed_from` on came
// from a packed DenseBatch: their errors name its fields
// ("example 5: dense_batch.values[12] is NaN").
absl::Status ValidateBatch(const ExampleBatch& batch, const ModelConfig& config,
                           size_t packed_from = SIZE_MAX);

// OK if `features` (one input row) fits `config`; errors name `index` as
// "features 3: dense[2] is inf".
absl::Status ValidateFeatures(std::span<const float> features,
                              const ModelConfig& config, size_t index);
absl::Status ValidateFeatures(const ExampleView& features,
                              const ModelConfig& config, size_t index);

}  // namespace streamfit

#endif  // STREAMFIT_CORE_MODEL_EXAMPLE_BATCH_H_
