// The floors streamfit-learn-speed measures beside the learner in the same
// run: what no learner of a shape can beat (bench/learn_floors.cc has each
// one's exact work).
#ifndef STREAMFIT_BENCH_LEARN_FLOORS_H_
#define STREAMFIT_BENCH_LEARN_FLOORS_H_

#include <benchmark/benchmark.h>

#include <string>

#include "bench/learn_speed_data.h"
#include "core/model/model_config.h"

namespace streamfit {

// A sparse shape's slots read and written once, with no rule.
void BM_MemoryFloor(benchmark::State& state, Shape shape);
// A bare logistic SGD step on the dense10 shape.
void BM_DenseFloor(benchmark::State& state);
// The squared-loss step with the work every learner must do per example.
void BM_DenseFloorRequired(benchmark::State& state);
// Registers RuleFloor/<shape_name>/<rule>: the work Learn must do per
// example, hand-fused with `optimizer`'s kernel (not rls); on a hashed
// shape, binary only.
void RegisterRuleFloor(Optimizer optimizer, Shape shape,
                       const std::string& shape_name,
                       Task task = Task::kBinary);

}  // namespace streamfit

#endif  // STREAMFIT_BENCH_LEARN_FLOORS_H_
