// streamfit-learn-speed: nanoseconds per learned example (ModelTrainer::Learn)
// for each update rule on dense and sparse input shapes, and heap allocations
// per example counted by a replaced global operator new; in the same run, the
// memory floor of each sparse shape (BM_MemoryFloor), the compute floors of
// the dense ones (BM_DenseFloor, BM_RuleFloor) and the cost of publishing a
// model (BM_Publish); and the rls rule's cost per example at d = 10, 32, 64
// (BM_LearnDenseRegression).
//
//   build/bench/streamfit-learn-speed --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "core/model/example_batch.h"
#include "core/model/feature_hash.h"
#include "core/model/linear_model.h"
#include "core/model/model_trainer.h"
#include "core/model/rules/adagrad.h"
#include "core/model/rules/adam.h"
#include "core/model/rules/ftrl.h"
#include "core/model/rules/normalized.h"
#include "core/model/rules/sgd.h"
#include "core/model/rules/step_params.h"

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

enum class Shape {
  kDense10,
  kDense100,
  kDense1000,
  kSparse30,
  kSparse30Zipf,
  kSparse30Quadratic
};

// The number of dense features of a shape (0: sparse).
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

constexpr int kExamples = 4096;

// kExamples examples of the given shape, binary unless `task` is regression:
// dense ones (feature j has spread j % 10 + 1) from a fixed linear rule (for
// regression, its value is the label); sparse ones with 30 active named
// features in two namespaces (15 each) drawn from a vocabulary of 100k names
// per namespace, uniformly (every lookup a cache miss: the worst case) or, for
// kSparse30Zipf, with Zipf frequencies (P(rank r) ~ 1 / r, as words in text and
// most categorical data: the frequent features stay in cache).
ExampleBatch MakeData(Shape shape, Task task = Task::kBinary) {
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

// Dense regression at width d (a noisy linear target), for the rls rule
// against the default one on the same examples: O(d^2) per example against
// O(d). The default serves auto, which up to LeastSquaresCompanion::
// kMaxFeatures also keeps the least-squares fit (O(d^2)); `averaged` is the
// rule with averaging alone.
void BM_LearnDenseRegression(benchmark::State& state, uint32_t d,
                             Optimizer optimizer, Serving serving) {
  ModelConfig config;
  config.task = Task::kRegression;
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
    data.Add(x, y);
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

// The memory floor of a sparse shape: the same examples' slots (with the
// a x b interactions for the quadratic shape) read for a score and then
// written once each, in a plain table of 2^18 slots of three doubles, with no
// learning rule at all. No learner with this table can beat it; on this
// machine's shared caches the misses, not the arithmetic, dominate.
void BM_MemoryFloor(benchmark::State& state, Shape shape) {
  const ExampleBatch data = MakeData(shape);
  constexpr uint32_t kBits = 18;
  std::vector<double> table(size_t{3} << kBits, 0.0);
  std::vector<uint32_t> slots;
  std::vector<double> xs;
  size_t i = 0;
  for (auto _ : state) {
    const ExampleView x = data.view(i);
    slots.clear();
    xs.clear();
    for (size_t f = 0; f < x.hashes.size(); ++f) {
      slots.push_back(HashSlot(x.hashes[f], kBits));
      xs.push_back(x.values[f]);
    }
    if (shape == Shape::kSparse30Quadratic) {
      for (size_t f = 0; f < 15; ++f) {
        for (size_t g = 15; g < 30; ++g) {
          slots.push_back(
              HashSlot(InteractionHash(x.hashes[f], x.hashes[g]), kBits));
          xs.push_back(static_cast<double>(x.values[f]) * x.values[g]);
        }
      }
    }
    for (uint32_t slot : slots) __builtin_prefetch(&table[slot * 3], 1);
    double score = 0;
    for (size_t f = 0; f < slots.size(); ++f) {
      score += table[slots[f] * 3] * xs[f];
    }
    const double g = 1e-6 * (score - data.labels[i]);
    for (size_t f = 0; f < slots.size(); ++f) {
      double* c = &table[slots[f] * 3];
      c[0] -= g * xs[f];
      c[1] += g * g;
    }
    if (++i == kExamples) i = 0;
  }
  benchmark::DoNotOptimize(table.data());
}

// The compute floor of the dense shape: a bare logistic SGD step on its raw
// features, hand-fused (score, sigmoid, update of 10 weights and the bias),
// with none of what Learn must also do per example (standardization,
// progressive metrics, clipping, the rate schedule and step cap, the
// non-finite guard). Each example's score waits for the previous update, so
// the chain of the dot product, the exponential, the division and the
// update bounds it from below, however few instructions surround it.
void BM_DenseFloor(benchmark::State& state) {
  const ExampleBatch data = MakeData(Shape::kDense10);
  double w[11] = {};
  size_t i = 0;
  for (auto _ : state) {
    const float* x = data.row(i).data();
    double s = w[10];
    for (int j = 0; j < 10; ++j) s += w[j] * x[j];
    const double g = 0.01 * (1.0 / (1.0 + std::exp(-s)) - data.labels[i]);
    for (int j = 0; j < 10; ++j) w[j] -= g * x[j];
    w[10] -= g;
    if (++i == kExamples) i = 0;
  }
  benchmark::DoNotOptimize(w);
}

// The same floor for squared loss with the per-example work the speed target
// counts for every learner, hand-fused: Welford statistics and standardized
// inputs (1 / sd refreshed every 64 examples), the progressive loss, |error|
// and error^2 sums with a 1,000-example window, clipping, the invscaling rate
// with the step cap, L2 and a finiteness check. Still no rollback, label
// standardization or prediction clamp, which Learn also does.
void BM_DenseFloorRequired(benchmark::State& state) {
  const ExampleBatch data = MakeData(Shape::kDense10);
  constexpr int d = 10;
  double w[d + 1] = {}, mean[d] = {}, m2[d] = {}, inv_std[d], z[d];
  std::fill(inv_std, inv_std + d, 1.0);
  std::vector<double> window(1000);
  size_t i = 0, next = 0;
  double loss_sum = 0, abs_sum = 0, sq_sum = 0;
  int64_t n = 0, skipped = 0;
  for (auto _ : state) {
    const float* x = data.row(i).data();
    const double inv_n = 1.0 / static_cast<double>(++n);
    for (int j = 0; j < d; ++j) {
      const double delta = x[j] - mean[j];
      mean[j] += delta * inv_n;
      m2[j] += delta * (x[j] - mean[j]);
    }
    if (n % 64 == 0) {
      for (int j = 0; j < d; ++j) {
        inv_std[j] = 1.0 / std::sqrt(m2[j] * inv_n);
      }
    }
    double s = w[d], norm2 = 1;
    for (int j = 0; j < d; ++j) {
      z[j] = (x[j] - mean[j]) * inv_std[j];
      s += w[j] * z[j];
      norm2 += z[j] * z[j];
    }
    const double error = s - data.labels[i];
    loss_sum += error * error;
    abs_sum += std::abs(error);
    sq_sum += error * error;
    window[next] = error * error;
    if (++next == window.size()) next = 0;
    const double g = std::clamp(error, -1e3, 1e3);
    const double step = std::min(
        0.01 / std::sqrt(std::sqrt(static_cast<double>(n))), 1.0 / norm2);
    double check = 0;
    for (int j = 0; j < d; ++j) {
      w[j] -= step * (g * z[j] + 1e-4 * w[j]);
      check += w[j] - w[j];
    }
    w[d] -= step * g;
    skipped += check + (w[d] - w[d]) != 0;
    if (++i == kExamples) i = 0;
  }
  benchmark::DoNotOptimize(w);
  benchmark::DoNotOptimize(loss_sum + abs_sum + sq_sum + window[0]);
  benchmark::DoNotOptimize(skipped);
}

// The floor of one update rule on a dense binary shape: the work Learn must
// do per example, hand-fused with the rule's own kernel (core/model/rules/):
// Welford statistics of the features with 1 / sd refreshed every 64
// examples, the standardized score, the logistic loss and gradient from one
// exponential, the progressive loss and accuracy with a 1,000-example
// window, the rule's global values (sgd: the capped step; adam: beta^t;
// normalized: each coordinate's scale and the rate from N and T) and a
// finiteness check. For regression, instead of the logistic loss: Welford
// statistics of the target, the estimate mean + sd * score, its squared
// error, and the gradient against the standardized target. No rollback log,
// drift monitor, clipping or prediction clamp, which Learn also has.
template <class Rule>
void BM_RuleFloor(benchmark::State& state, Shape shape, Task task) {
  const ExampleBatch data = MakeData(shape, task);
  const uint32_t d = data.num_features;
  ModelConfig config;
  config.task = task;
  config.optimizer = Rule::kOptimizer;
  config.num_features = d;
  const ModelConfig full = *WithDefaults(config);
  std::vector<double> w(d + 1), a(d + 1), b(d + 1), mean(d), m2(d),
      inv_std(d, 1.0), z(d + 1, 1.0), window(1000);
  StepParams p{};
  p.weight = 1;
  p.eta = p.alpha = *full.learning_rate;
  p.beta = *full.ftrl_beta;
  p.b1 = *full.adam_beta1;
  p.b2 = *full.adam_beta2;
  const double l2 = *full.l2;
  double beta1_t = 1, beta2_t = 1, norm_sum = 0, weight_sum = 0;
  double loss_sum = 0, correct = 0, y_mean = 0, y_m2 = 0;
  int64_t n = 0, skipped = 0;
  size_t i = 0, next = 0;
  for (auto _ : state) {
    const float* x = data.row(i).data();
    const double y = data.labels[i];
    const double inv_n = 1.0 / static_cast<double>(++n);
    for (uint32_t j = 0; j < d; ++j) {
      const double delta = x[j] - mean[j];
      mean[j] += delta * inv_n;
      m2[j] += delta * (x[j] - mean[j]);
    }
    if (n % 64 == 0) {
      for (uint32_t j = 0; j < d; ++j) {
        inv_std[j] = 1.0 / std::sqrt(m2[j] * inv_n);
      }
    }
    double s = w[d], norm2 = 1;
    for (uint32_t j = 0; j < d; ++j) {
      z[j] = (x[j] - mean[j]) * inv_std[j];
      s += w[j] * z[j];
      norm2 += z[j] * z[j];
    }
    double loss, g;
    if (task == Task::kRegression) {
      const double y_sd =
          n > 2 ? std::sqrt(y_m2 / static_cast<double>(n - 1)) : 1.0;
      const double error = y_mean + y_sd * s - y;
      loss = error * error;
      g = s - (y - y_mean) / y_sd;
      const double delta = y - y_mean;
      y_mean += delta * inv_n;
      y_m2 += delta * (y - y_mean);
    } else {
      const double e = std::exp(-std::abs(s));
      const double prob = s >= 0 ? 1 / (1 + e) : e / (1 + e);
      loss = std::log1p(e) + (s > 0 ? (1 - y) * s : -y * s);
      correct += (s >= 0) == (y == 1);
      g = prob - y;
    }
    loss_sum += loss;
    window[next] = loss;
    if (++next == window.size()) next = 0;
    if constexpr (Rule::kOptimizer == Optimizer::kSgd) {
      p.rate = std::min(p.eta / std::sqrt(static_cast<double>(n)), 1 / norm2);
    }
    if constexpr (Rule::kOptimizer == Optimizer::kAdam) {
      beta1_t *= p.b1;
      beta2_t *= p.b2;
      p.inv_c1 = 1 / (1 - beta1_t);
      p.inv_c2 = 1 / (1 - beta2_t);
    }
    if constexpr (Rule::kOptimizer == Optimizer::kNormalized) {
      double norm_x = 0;
      for (uint32_t j = 0; j <= d; ++j) {
        norm_x += NormalizedRule::TakeScale(&w[j], &b[j], 1, z[j], 1);
      }
      norm_sum += norm_x;
      weight_sum += 1;
      p.rate = p.eta * std::sqrt(weight_sum / norm_sum);
    }
    double check = 0;
    for (uint32_t j = 0; j <= d; ++j) {
      Rule::Step(w[j], a[j], b[j], z[j], g, 0, j < d ? l2 : 0, p);
      Rule::AddFiniteCheck(w[j], a[j], b[j], check);
    }
    skipped += check != 0;
    if (++i == kExamples) i = 0;
  }
  benchmark::DoNotOptimize(w.data());
  benchmark::DoNotOptimize(loss_sum + correct + window[0]);
  benchmark::DoNotOptimize(skipped);
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

template <class Rule>
void RegisterRuleFloor(Shape shape, const std::string& shape_name,
                       Task task = Task::kBinary) {
  benchmark::RegisterBenchmark(("RuleFloor/" + shape_name + "/" +
                                std::string(OptimizerName(Rule::kOptimizer)))
                                   .c_str(),
                               BM_RuleFloor<Rule>, shape, task);
}

void RegisterAll() {
  RegisterRuleFloor<SgdRule>(Shape::kDense10, "dense10");
  RegisterRuleFloor<AdagradRule>(Shape::kDense10, "dense10");
  RegisterRuleFloor<FtrlRule>(Shape::kDense10, "dense10");
  RegisterRuleFloor<AdamRule>(Shape::kDense10, "dense10");
  // The default rule on the shape and task streamfit-bench's Observe load
  // sends (bench/observe_cpu.py compares the learner thread against it).
  RegisterRuleFloor<NormalizedRule>(Shape::kDense10, "dense10_regression",
                                    Task::kRegression);
  // The rule and its average, which RuleFloor bounds: the least-squares fit
  // that auto keeps beside the rule on narrow dense regression is timed by
  // LearnRegression.
  benchmark::RegisterBenchmark("Learn/dense10_regression/normalized", BM_Learn,
                               Shape::kDense10, Optimizer::kNormalized, 0,
                               Task::kRegression, Serving::kAveraged);
  benchmark::RegisterBenchmark(
      "Learn/dense10_regression/normalized/serving:live", BM_Learn,
      Shape::kDense10, Optimizer::kNormalized, 0, Task::kRegression,
      Serving::kLive);
  for (const auto& [name, shape] :
       {std::pair<std::string, Shape>{"dense10", Shape::kDense10},
        {"dense100", Shape::kDense100},
        {"dense1000", Shape::kDense1000}}) {
    RegisterRuleFloor<NormalizedRule>(shape, name);
    if (shape != Shape::kDense10) {
      benchmark::RegisterBenchmark(("Learn/" + name + "/normalized").c_str(),
                                   BM_Learn, shape, Optimizer::kNormalized, 0,
                                   Task::kBinary, Serving::kUnspecified);
    }
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
    benchmark::RegisterBenchmark((name + "/rls").c_str(),
                                 BM_LearnDenseRegression, d, Optimizer::kRls,
                                 Serving::kUnspecified);
    benchmark::RegisterBenchmark((name + "/normalized").c_str(),
                                 BM_LearnDenseRegression, d,
                                 Optimizer::kNormalized, Serving::kAuto);
    benchmark::RegisterBenchmark(
        (name + "/normalized/serving:averaged").c_str(),
        BM_LearnDenseRegression, d, Optimizer::kNormalized, Serving::kAveraged);
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
      benchmark::RegisterBenchmark((std::string("Learn/") + shape_name + "/" +
                                    std::string(OptimizerName(o)))
                                       .c_str(),
                                   BM_Learn, shape, o, 0, Task::kBinary,
                                   Serving::kUnspecified);
    }
    if (shape != Shape::kSparse30Quadratic) {
      // The rule alone, without the average that auto keeps.
      benchmark::RegisterBenchmark(
          (std::string("Learn/") + shape_name + "/normalized/serving:live")
              .c_str(),
          BM_Learn, shape, Optimizer::kNormalized, 0, Task::kBinary,
          Serving::kLive);
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
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
