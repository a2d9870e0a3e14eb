// The example streams that streamfit-learn-speed times the learner
// (bench/learn_speed.cc) and its floors (bench/learn_floors.cc) on.
#ifndef STREAMFIT_BENCH_LEARN_SPEED_DATA_H_
#define STREAMFIT_BENCH_LEARN_SPEED_DATA_H_

#include <cstdint>

#include "core/model/example_batch.h"
#include "core/model/model_config.h"

namespace streamfit {

enum class Shape {
  kDense10,
  kDense100,
  kDense1000,
  kSparse30,
  kSparse30Zipf,
  kSparse30Quadratic
};

// The number of dense features of a shape (0: sparse).
uint32_t DenseWidth(Shape shape);

inline constexpr int kExamples = 4096;

// kExamples examples of the given shape, binary unless `task` is regression:
// dense ones (feature j has spread j % 10 + 1) from a fixed linear rule (for
// regression, its value is the label); sparse ones with 30 active named
// features in two namespaces (15 each) drawn from a vocabulary of 100k names
// per namespace, uniformly (every lookup a cache miss: the worst case) or, for
// kSparse30Zipf, with Zipf frequencies (P(rank r) ~ 1 / r, as words in text and
// most categorical data: the frequent features stay in cache).
ExampleBatch MakeData(Shape shape, Task task = Task::kBinary);

}  // namespace streamfit

#endif  // STREAMFIT_BENCH_LEARN_SPEED_DATA_H_
