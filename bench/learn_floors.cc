#include "bench/learn_floors.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <vector>

#include "core/model/feature_hash.h"
#include "core/model/rules/adagrad.h"
#include "core/model/rules/adam.h"
#include "core/model/rules/ftrl.h"
#include "core/model/rules/normalized.h"
#include "core/model/rules/sgd.h"
#include "core/model/rules/step_params.h"

namespace streamfit {

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

namespace {

// A progressive loss's sum and its 1,000-example window.
struct LossWindow {
  double sum = 0;
  std::vector<double> window = std::vector<double>(1000);
  size_t next = 0;

  void Add(double loss) {
    sum += loss;
    window[next] = loss;
    if (++next == window.size()) next = 0;
  }
  double Digest() const { return sum + window[0]; }
};

// The progressive logistic loss and accuracy with their window, from one
// exponential: what every binary floor counts per example.
struct ProgressiveLogistic {
  LossWindow losses;
  double correct = 0;

  // Counts the example (score s, label y) and returns the loss's gradient.
  double Add(double s, double y) {
    const double e = std::exp(-std::abs(s));
    const double prob = s >= 0 ? 1 / (1 + e) : e / (1 + e);
    correct += (s >= 0) == (y == 1);
    losses.Add(std::log1p(e) + (s > 0 ? (1 - y) * s : -y * s));
    return prob - y;
  }
  double Digest() const { return losses.Digest() + correct; }
};

// A floor's update settings and the rule's global values, as Update keeps
// them: sgd's capped step, adam's beta^t, normalized's N and T.
template <class Rule>
struct FloorUpdate {
  explicit FloorUpdate(const ModelConfig& full) {
    p.weight = 1;
    p.eta = *full.learning_rate;
    p.inv_alpha = 1 / p.eta;
    p.beta = *full.ftrl_beta;
    p.b1 = *full.adam_beta1;
    p.b2 = *full.adam_beta2;
  }
  // Sets p for the n-th example, whose |x|^2 + 1 is norm2 and whose
  // coordinates' shares of N (NormalizedRule::TakeScale) sum to norm_x.
  void Begin(int64_t n, double norm2, double norm_x) {
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
      norm_sum += norm_x;
      weight_sum += 1;
      p.rate = p.eta * std::sqrt(weight_sum / norm_sum);
    }
  }

  StepParams p{};
  double beta1_t = 1, beta2_t = 1, norm_sum = 0, weight_sum = 0;
};

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
      inv_std(d, 1.0), z(d + 1, 1.0);
  FloorUpdate<Rule> update(full);
  const StepParams& p = update.p;
  const double l2 = *full.l2;
  double y_mean = 0, y_m2 = 0;
  LossWindow squared;
  ProgressiveLogistic logistic;
  int64_t n = 0, skipped = 0;
  size_t i = 0;
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
    double g;
    if (task == Task::kRegression) {
      const double y_sd =
          n > 2 ? std::sqrt(y_m2 / static_cast<double>(n - 1)) : 1.0;
      const double error = y_mean + y_sd * s - y;
      squared.Add(error * error);
      g = s - (y - y_mean) / y_sd;
      const double delta = y - y_mean;
      y_mean += delta * inv_n;
      y_m2 += delta * (y - y_mean);
    } else {
      g = logistic.Add(s, y);
    }
    double norm_x = 0;
    if constexpr (Rule::kOptimizer == Optimizer::kNormalized) {
      for (uint32_t j = 0; j <= d; ++j) {
        norm_x += NormalizedRule::TakeScale(&w[j], &b[j], 1, z[j], 1);
      }
    }
    update.Begin(n, norm2, norm_x);
    double check = 0;
    for (uint32_t j = 0; j <= d; ++j) {
      Rule::Step(w[j], a[j], b[j], z[j], g, 0, j < d ? l2 : 0, p);
      Rule::AddFiniteCheck(w[j], a[j], b[j], check);
    }
    skipped += check != 0;
    if (++i == kExamples) i = 0;
  }
  benchmark::DoNotOptimize(w.data());
  benchmark::DoNotOptimize(squared.Digest() + logistic.Digest());
  benchmark::DoNotOptimize(skipped);
}

// The same floor on a hashed binary shape: each feature's slot (HashSlot),
// prefetched, in a plain table of 2^18 slots of {w, a, b}; the score, the
// logistic loss, gradient and progressive metrics, the rule's global values,
// its kernel on each slot and the bias, and a finiteness check. The
// MemoryFloor's reads and writes plus the rule's arithmetic: no rollback
// log, copy-on-write table, drift monitor or clipping, which Learn also has.
template <class Rule>
void BM_SparseRuleFloor(benchmark::State& state, Shape shape) {
  const ExampleBatch data = MakeData(shape);
  constexpr uint32_t kBits = 18;
  ModelConfig config;
  config.task = Task::kBinary;
  config.optimizer = Rule::kOptimizer;
  config.hash_bits = kBits;
  const ModelConfig full = *WithDefaults(config);
  std::vector<double> table(size_t{3} << kBits, 0.0);
  double bias[3] = {};
  std::vector<double*> coords;
  std::vector<double> xs;
  FloorUpdate<Rule> update(full);
  const StepParams& p = update.p;
  const double l1 = *full.l1, l2 = *full.l2;
  ProgressiveLogistic logistic;
  int64_t n = 0, skipped = 0;
  size_t i = 0;
  for (auto _ : state) {
    const ExampleView x = data.view(i);
    const size_t m = x.hashes.size();
    coords.resize(m);
    xs.resize(m);
    for (size_t f = 0; f < m; ++f) {
      coords[f] = &table[size_t{3} * HashSlot(x.hashes[f], kBits)];
      __builtin_prefetch(coords[f], 1);
      xs[f] = x.values[f];
    }
    double s = bias[0], norm2 = 1;
    for (size_t f = 0; f < m; ++f) {
      s += coords[f][0] * xs[f];
      norm2 += xs[f] * xs[f];
    }
    const double g = logistic.Add(s, data.labels[i]);
    ++n;
    double norm_x = 0;
    if constexpr (Rule::kOptimizer == Optimizer::kNormalized) {
      norm_x = NormalizedRule::TakeScale(&bias[0], &bias[2], 1, 1, 1);
      for (size_t f = 0; f < m; ++f) {
        norm_x +=
            NormalizedRule::TakeScale(coords[f], coords[f] + 2, 1, xs[f], 1);
      }
    }
    update.Begin(n, norm2, norm_x);
    double check = 0;
    for (size_t f = 0; f < m; ++f) {
      double* c = coords[f];
      Rule::Step(c[0], c[1], c[2], xs[f], g, l1, l2, p);
      Rule::AddFiniteCheck(c[0], c[1], c[2], check);
    }
    Rule::Step(bias[0], bias[1], bias[2], 1, g, 0, 0, p);
    Rule::AddFiniteCheck(bias[0], bias[1], bias[2], check);
    skipped += check != 0;
    if (++i == kExamples) i = 0;
  }
  benchmark::DoNotOptimize(table.data());
  benchmark::DoNotOptimize(logistic.Digest());
  benchmark::DoNotOptimize(skipped);
}

template <class Rule>
void RegisterRuleFloorOf(Shape shape, const std::string& shape_name,
                         Task task) {
  const std::string name = "RuleFloor/" + shape_name + "/" +
                           std::string(OptimizerName(Rule::kOptimizer));
  if (DenseWidth(shape) == 0) {
    benchmark::RegisterBenchmark(name.c_str(), BM_SparseRuleFloor<Rule>, shape);
  } else {
    benchmark::RegisterBenchmark(name.c_str(), BM_RuleFloor<Rule>, shape, task);
  }
}

}  // namespace

void RegisterRuleFloor(Optimizer optimizer, Shape shape,
                       const std::string& shape_name, Task task) {
  switch (optimizer) {
    case Optimizer::kSgd:
      return RegisterRuleFloorOf<SgdRule>(shape, shape_name, task);
    case Optimizer::kAdagrad:
      return RegisterRuleFloorOf<AdagradRule>(shape, shape_name, task);
    case Optimizer::kFtrl:
      return RegisterRuleFloorOf<FtrlRule>(shape, shape_name, task);
    case Optimizer::kAdam:
      return RegisterRuleFloorOf<AdamRule>(shape, shape_name, task);
    case Optimizer::kNormalized:
      return RegisterRuleFloorOf<NormalizedRule>(shape, shape_name, task);
    default:
      std::abort();  // rls has no per-coordinate kernel
  }
}

}  // namespace streamfit
