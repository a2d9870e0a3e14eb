// streamfit-learn-speed: nanoseconds per learned example (ModelTrainer::Learn)
// for each update rule on dense and sparse input shapes, and heap allocations
// per example counted by a replaced global operator new; in the same run, the
// memory floor of each sparse shape and the rules' hand-fused floors on the
// dense and hashed ones (bench/learn_floors.h) and the cost of publishing a
// model (BM_Publish); and the cost per example of the O(d^2) learners at
// widths d up to 64: the rls rule, and the least-squares fit and Kalman
// filter auto keeps beside the rule (BM_LearnDense); and, where CMake finds
// an installed Vowpal Wabbit, its learner on the hashed shapes
// (bench/vowpal_wabbit_learn.h).
//
//   build/bench/streamfit-learn-speed --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "bench/learn_floors.h"
#include "bench/learn_speed_data.h"
#ifdef STREAMFIT_WITH_VOWPAL_WABBIT
#include "bench/vowpal_wabbit_learn.h"
#endif
#include "core/model/example_batch.h"
#include "core/model/feature_hash.h"
#include "core/model/linear_model.h"
#include "core/model/model_trainer.h"

namespace {

std::atomic<uint64_t> g_allocations{0};

}  // namespace

void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
// GCC cannot tell that these replace the global operators above (which
// allocate with malloc), and warns that free() gets a pointer from new.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

namespace streamfit {
namespace {

// Learns one example per iteration; with publish_every > 0, also copies the
// model every publish_every examples and keeps the copy until the next, as
// the learner publishes states for Predict (the copy shares the sparse
// table's blocks, so the next writes to them switch buffers).
void BM_Learn(benchmark::State& state, Shape shape, Optimizer optimizer,
              int publish_every, Task task, Serving serving) {
  ModelConfig config;
  config.task = task;
  config.optimizer = optimizer;
  config.num_features = DenseWidth(shape);
  config.hash_bits = 18;
  if (shape == Shape::kSparse30Quadratic) config.interactions = {{"a", "b"}};
  config.serving = serving;
  absl::StatusOr<ModelTrainer> trainer = ModelTrainer::Create(config);
  if (!trainer.ok()) {
    state.SkipWithError(trainer.status().ToString().c_str());
    return;
  }
  const ExampleBatch data = MakeData(shape, task);
  // Warm up: the sparse table and scratch buffers are allocated once.
  for (int i = 0; i < kExamples; ++i) {
    trainer->Learn(data.view(i), data.labels[i]);
  }
  size_t i = 0;
  int unpublished = 0;
  std::shared_ptr<const LinearModel> published;
  const uint64_t allocations_before = g_allocations.load();
  for (auto _ : state) {
    trainer->Learn(data.view(i), data.labels[i]);
    if (++i == kExamples) i = 0;
    if (publish_every > 0 && ++unpublished == publish_every) {
      published = std::make_shared<const LinearModel>(trainer->model());
      unpublished = 0;
    }
  }
  const uint64_t allocations = g_allocations.load() - allocations_before;
  state.counters["allocs_per_example"] =
      benchmark::Counter(static_cast<double>(allocations) /
                         static_cast<double>(state.iterations()));
  benchmark::DoNotOptimize(trainer->version());
}

// Dense regression (a noisy linear target) or binary classification (its
// sign) at width d: for the rls rule against the default one on the same
// examples, O(d^2) per example against O(d), and for the companions auto
// keeps beside the rule, also O(d^2): the least-squares fit on regression
// up to LeastSquaresCompanion::kMaxFeatures, the Kalman filter on
// classifiers up to KalmanCompanion::kMaxCovarianceValues. `averaged` is
// the rule with averaging alone.
void BM_LearnDense(benchmark::State& state, uint32_t d, Task task,
                   Optimizer optimizer, Serving serving) {
  ModelConfig config;
  config.task = task;
  config.optimizer = optimizer;
  config.num_features = d;
  config.serving = serving;
  absl::StatusOr<ModelTrainer> trainer = ModelTrainer::Create(config);
  if (!trainer.ok()) {
    state.SkipWithError(trainer.status().ToString().c_str());
    return;
  }
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0, 1);
  ExampleBatch data;
  data.num_features = d;
  std::vector<float> x(d);
  for (int i = 0; i < kExamples; ++i) {
    double y = normal(rng) * 0.1;
    for (uint32_t j = 0; j < d; ++j) {
      x[j] = normal(rng);
      y += x[j] * (j % 3 == 0 ? 1 : -0.5);
    }
    data.Add(x, task == Task::kRegression ? y : (y > 0 ? 1 : 0));
  }
  for (int i = 0; i < kExamples; ++i)
    trainer->Learn(data.view(i), data.labels[i]);
  size_t i = 0;
  for (auto _ : state) {
    trainer->Learn(data.view(i), data.labels[i]);
    if (++i == kExamples) i = 0;
  }
  benchmark::DoNotOptimize(trainer->version());
}

// The cost of one publish: copying the model a trainer holds (what the
// learner hands to Predict) against copying the whole trainer, whose
// scoring buffers and rollback log grow with the widest example it has
// learned. `wide` first learns one example of 100,000 hashed features, so
// those buffers are large; the model copy must not notice.
void BM_Publish(benchmark::State& state, Shape shape, bool wide,
                bool copy_trainer) {
  ModelConfig config;
  config.task = Task::kBinary;
  config.num_features = DenseWidth(shape);
  config.hash_bits = 18;
  absl::StatusOr<ModelTrainer> trainer = ModelTrainer::Create(config);
  if (!trainer.ok()) {
    state.SkipWithError(trainer.status().ToString().c_str());
    return;
  }
  const ExampleBatch data = MakeData(shape);
  trainer->LearnBatch(data);
  if (wide) {
    std::vector<float> dense(config.num_features, 1);
    std::vector<uint32_t> hashes, namespaces;
    const uint32_t ns = HashNamespace("w");
    for (uint32_t f = 0; f < 100000; ++f) {
      hashes.push_back(HashFeatureIndex(ns, f));
      namespaces.push_back(ns);
    }
    const std::vector<float> values(hashes.size(), 1e-3f);
    trainer->Learn(ExampleView{dense, hashes, namespaces, values}, 1);
  }
  const uint64_t allocations_before = g_allocations.load();
  for (auto _ : state) {
    if (copy_trainer) {
      auto copy = std::make_shared<const ModelTrainer>(*trainer);
      benchmark::DoNotOptimize(copy.get());
    } else {
      auto copy = std::make_shared<const LinearModel>(trainer->model());
      benchmark::DoNotOptimize(copy.get());
    }
  }
  state.counters["allocs_per_publish"] = benchmark::Counter(
      static_cast<double>(g_allocations.load() - allocations_before) /
      static_cast<double>(state.iterations()));
}

void RegisterAll() {
  // The default rule on the shape and task streamfit-bench's Observe load
  // sends (bench/observe_cpu.py compares the learner thread against it).
  RegisterRuleFloor(Optimizer::kNormalized, Shape::kDense10,
                    "dense10_regression", Task::kRegression);
  // The rule with its average, and alone (what RuleFloor bounds); the
  // least-squares fit that auto also keeps on narrow dense regression is
  // timed by LearnRegression.
  benchmark::RegisterBenchmark("Learn/dense10_regression/normalized", BM_Learn,
                               Shape::kDense10, Optimizer::kNormalized, 0,
                               Task::kRegression, Serving::kAveraged);
  benchmark::RegisterBenchmark(
      "Learn/dense10_regression/normalized/serving:live", BM_Learn,
      Shape::kDense10, Optimizer::kNormalized, 0, Task::kRegression,
      Serving::kLive);
  for (const auto& [name, shape] :
       {std::pair<std::string, Shape>{"dense100", Shape::kDense100},
        {"dense1000", Shape::kDense1000}}) {
    RegisterRuleFloor(Optimizer::kNormalized, shape, name);
    benchmark::RegisterBenchmark(("Learn/" + name + "/normalized").c_str(),
                                 BM_Learn, shape, Optimizer::kNormalized, 0,
                                 Task::kBinary, Serving::kUnspecified);
    benchmark::RegisterBenchmark(
        ("Learn/" + name + "/normalized/serving:live").c_str(), BM_Learn, shape,
        Optimizer::kNormalized, 0, Task::kBinary, Serving::kLive);
  }
  for (const auto& [name, shape] :
       {std::pair<std::string, Shape>{"hashed18", Shape::kSparse30},
        {"dense1000", Shape::kDense1000}}) {
    for (bool wide : {false, true}) {
      for (bool copy_trainer : {false, true}) {
        benchmark::RegisterBenchmark(
            ("Publish/" + name +
             (wide ? "/after_wide_example" : "/after_narrow_examples") +
             (copy_trainer ? "/copy:trainer" : "/copy:model"))
                .c_str(),
            BM_Publish, shape, wide, copy_trainer);
      }
    }
  }
  for (uint32_t d : {10, 16, 32, 64}) {
    const std::string name = "LearnRegression/dense" + std::to_string(d);
    benchmark::RegisterBenchmark((name + "/rls").c_str(), BM_LearnDense, d,
                                 Task::kRegression, Optimizer::kRls,
                                 Serving::kUnspecified);
    benchmark::RegisterBenchmark((name + "/normalized").c_str(), BM_LearnDense,
                                 d, Task::kRegression, Optimizer::kNormalized,
                                 Serving::kAuto);
    benchmark::RegisterBenchmark(
        (name + "/normalized/serving:averaged").c_str(), BM_LearnDense, d,
        Task::kRegression, Optimizer::kNormalized, Serving::kAveraged);
  }
  for (uint32_t d : {10, 16, 32, 63}) {
    const std::string name = "LearnClassifier/dense" + std::to_string(d);
    for (Serving serving : {Serving::kAuto, Serving::kAveraged}) {
      benchmark::RegisterBenchmark(
          (name + "/normalized" +
           (serving == Serving::kAuto ? "" : "/serving:averaged"))
              .c_str(),
          BM_LearnDense, d, Task::kBinary, Optimizer::kNormalized, serving);
    }
  }
  benchmark::RegisterBenchmark("DenseFloor/dense10_logistic", BM_DenseFloor);
  benchmark::RegisterBenchmark("DenseFloor/dense10_squared_required",
                               BM_DenseFloorRequired);
  const std::pair<const char*, Shape> shapes[] = {
      {"dense10", Shape::kDense10},
      {"sparse30_b18", Shape::kSparse30},
      {"sparse30_b18_zipf", Shape::kSparse30Zipf},
      {"sparse30_b18_quadratic", Shape::kSparse30Quadratic}};
  for (const auto& [shape_name, shape] : shapes) {
    if (shape != Shape::kDense10) {
      benchmark::RegisterBenchmark(
          (std::string("MemoryFloor/") + shape_name).c_str(), BM_MemoryFloor,
          shape);
    }
    for (Optimizer o : {Optimizer::kSgd, Optimizer::kAdagrad, Optimizer::kFtrl,
                        Optimizer::kAdam, Optimizer::kNormalized}) {
      const std::string name = std::string("Learn/") + shape_name + "/" +
                               std::string(OptimizerName(o));
      // The rule and its average (on dense10, auto would also keep the
      // Kalman filter, which LearnClassifier times).
      benchmark::RegisterBenchmark(name.c_str(), BM_Learn, shape, o, 0,
                                   Task::kBinary, Serving::kAveraged);
      if (shape == Shape::kSparse30Quadratic) continue;
      // The rule alone, which RuleFloor bounds.
      benchmark::RegisterBenchmark((name + "/serving:live").c_str(), BM_Learn,
                                   shape, o, 0, Task::kBinary, Serving::kLive);
      RegisterRuleFloor(o, shape, shape_name);
    }
    if (shape == Shape::kSparse30 || shape == Shape::kSparse30Zipf) {
      for (int every : {64, 1024}) {
        benchmark::RegisterBenchmark(
            (std::string("Learn/") + shape_name +
             "/normalized/publish_every:" + std::to_string(every))
                .c_str(),
            BM_Learn, shape, Optimizer::kNormalized, every, Task::kBinary,
            Serving::kUnspecified);
      }
    }
  }
}

}  // namespace
}  // namespace streamfit

int main(int argc, char** argv) {
  streamfit::RegisterAll();
#ifdef STREAMFIT_WITH_VOWPAL_WABBIT
  streamfit::RegisterVowpalWabbit();
#endif
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
