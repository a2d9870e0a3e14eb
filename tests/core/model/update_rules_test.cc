// The update rules, sparse and hashed features, interactions and guards of
// LinearModel (core/model/linear_model.cc), one behaviour per test.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/model/feature_hash.h"
#include "core/model/linear_model.h"
#include "core/model/model_trainer.h"
#include "tests/testing/model_streams.h"
#include "tests/testing/status_matchers.h"

namespace streamfit {
namespace {

using ::streamfit::testing::IsOk;
using ::streamfit::testing::MustCreate;

constexpr Optimizer kAllOptimizers[] = {Optimizer::kSgd, Optimizer::kAdagrad,
                                        Optimizer::kFtrl, Optimizer::kAdam,
                                        Optimizer::kNormalized};

// One example's features in owned storage.
struct Input {
  std::vector<float> dense;
  std::vector<uint32_t> hashes, namespaces;
  std::vector<float> values;

  Input& Named(const std::string& ns, const std::string& name, float v) {
    const uint32_t h = HashNamespace(ns);
    hashes.push_back(HashFeatureName(h, name));
    namespaces.push_back(h);
    values.push_back(v);
    return *this;
  }
  ExampleView view() const { return {dense, hashes, namespaces, values}; }
};

// One raw feature, squared loss, no regularization: easy to follow by hand.
ModelConfig HandConfig(Optimizer optimizer, double eta) {
  ModelConfig config;
  config.task = Task::kRegression;
  config.num_features = 1;
  config.standardize = false;
  config.optimizer = optimizer;
  config.schedule = Schedule::kConstant;
  config.learning_rate = eta;
  config.l2 = 0;
  return config;
}

// Runs the two hand examples (x = 2, y = 3) then (x = 1, y = -1) and returns
// (w, b) after each.
std::vector<std::pair<double, double>> TwoSteps(const ModelConfig& config) {
  ModelTrainer trainer(MustCreate(config));
  const LinearModel& model = trainer.model();
  std::vector<std::pair<double, double>> out;
  for (auto [x, y] : {std::pair<float, double>{2, 3}, {1, -1}}) {
    trainer.Learn(std::vector<float>{x}, y);
    const RawLinearFunction f = model.RawFunction();
    out.emplace_back(f.weights(0, 0), f.bias[0]);
  }
  return out;
}

TEST(UpdateRulesTest, AdagradTwoStepsMatchHandComputation) {
  const auto got = TwoSteps(HandConfig(Optimizer::kAdagrad, 0.5));
  // Step 1: s = 0, g = -3. w: g x = -6, G = 36, w = 0.5 / 6 * 6 = 0.5;
  // b: G = 9, b = 0.5 / 3 * 3 = 0.5.
  EXPECT_DOUBLE_EQ(got[0].first, 0.5);
  EXPECT_DOUBLE_EQ(got[0].second, 0.5);
  // Step 2: s = 1, g = 2. w: G = 40; b: G = 13.
  EXPECT_DOUBLE_EQ(got[1].first, 0.5 - 0.5 / std::sqrt(40.0) * 2);
  EXPECT_DOUBLE_EQ(got[1].second, 0.5 - 0.5 / std::sqrt(13.0) * 2);
}

TEST(UpdateRulesTest, FtrlTwoStepsMatchHandComputation) {
  ModelConfig config = HandConfig(Optimizer::kFtrl, 0.5);  // alpha
  config.ftrl_beta = 1;
  const auto got = TwoSteps(config);
  // Step 1: w: g = -6, sigma = 6 / 0.5 = 12, z = -6, n = 36,
  // w = 6 / ((1 + 6) / 0.5) = 3/7; b: z = -3, n = 9, b = 3 / 8.
  EXPECT_DOUBLE_EQ(got[0].first, 3.0 / 7);
  EXPECT_DOUBLE_EQ(got[0].second, 3.0 / 8);
  // Step 2: s = 3/7 + 3/8, g = s + 1 (x = 1 for both coordinates).
  const double g = 3.0 / 7 + 3.0 / 8 + 1;
  const double zw = -6 + g - (std::sqrt(36 + g * g) - 6) / 0.5 * (3.0 / 7);
  const double zb = -3 + g - (std::sqrt(9 + g * g) - 3) / 0.5 * (3.0 / 8);
  EXPECT_DOUBLE_EQ(got[1].first, -zw / ((1 + std::sqrt(36 + g * g)) / 0.5));
  EXPECT_DOUBLE_EQ(got[1].second, -zb / ((1 + std::sqrt(9 + g * g)) / 0.5));
}

// ftrl's weights follow from its state (z, n): a model whose weights a batch
// fit set continues from them. A sample it predicts exactly (gradient 0)
// leaves them as they are; one step more moves them from there.
TEST(UpdateRulesTest, FtrlContinuesFromFittedWeights) {
  ModelConfig config = HandConfig(Optimizer::kFtrl, 0.5);  // alpha
  config.ftrl_beta = 1;
  absl::StatusOr<ModelConfig> full = WithDefaults(config);
  ASSERT_THAT(full, IsOk());
  const LinearModel empty = MustCreate(*full);
  Eigen::MatrixXd w(1, 1);
  w << 2;
  Eigen::VectorXd b(1);
  b << 1;
  ModelTrainer trainer(LinearModel::FromParameters(
      *full, empty.feature_stats(), empty.label_stats(), w, b, {}));
  trainer.Learn(std::vector<float>{2}, 5);  // s = 2 * 2 + 1 = 5
  RawLinearFunction f = trainer.model().RawFunction();
  EXPECT_DOUBLE_EQ(f.weights(0, 0), 2);
  EXPECT_DOUBLE_EQ(f.bias[0], 1);
  // Then x = 1, y = 2: s = 3, g = 1. w: z = -2 (1 / 0.5) = -4, sigma =
  // 1 / 0.5 = 2, z = -4 + 1 - 2 * 2 = -7, n = 1, w = 7 / ((1 + 1) / 0.5);
  // b: z = -2 + 1 - 2 * 1 = -3, b = 3 / 4.
  trainer.Learn(std::vector<float>{1}, 2);
  f = trainer.model().RawFunction();
  EXPECT_DOUBLE_EQ(f.weights(0, 0), 7.0 / 4);
  EXPECT_DOUBLE_EQ(f.bias[0], 3.0 / 4);
}

TEST(UpdateRulesTest, AdamTwoStepsMatchHandComputation) {
  const auto got = TwoSteps(HandConfig(Optimizer::kAdam, 0.1));
  // Step 1 (t = 1): bias-corrected m / sqrt(v) = sign(g): both move by 0.1.
  EXPECT_NEAR(got[0].first, 0.1, 1e-9);
  EXPECT_NEAR(got[0].second, 0.1, 1e-9);
  // Step 2 (t = 2): s = w + b (about 0.2), g = s + 1 for both (x = 1).
  const double c1 = 1 - 0.9 * 0.9, c2 = 1 - 0.999 * 0.999;
  const double g = got[0].first + got[0].second + 1;
  auto step2 = [&](double w1, double g1) {
    const double m = 0.9 * (0.1 * g1) + 0.1 * g;
    const double v = 0.999 * (0.001 * g1 * g1) + 0.001 * g * g;
    return w1 - 0.1 * (m / c1) / (std::sqrt(v / c2) + 1e-8);
  };
  EXPECT_NEAR(got[1].first, step2(got[0].first, -6), 1e-12);
  EXPECT_NEAR(got[1].second, step2(got[0].second, -3), 1e-12);
}

TEST(UpdateRulesTest, NormalizedTwoStepsMatchHandComputation) {
  const auto got = TwoSteps(HandConfig(Optimizer::kNormalized, 0.5));
  // Step 1: s_w = 2, N = 1 + (2/2)^2 = 2, T = 1, rate = 0.5 sqrt(1/2).
  // w: g x = -6, G = 36, w = rate * 6 / (6 * 2); b: G = 9, b = rate.
  const double r1 = 0.5 * std::sqrt(0.5);
  EXPECT_DOUBLE_EQ(got[0].first, r1 / 2);
  EXPECT_DOUBLE_EQ(got[0].second, r1);
  // Step 2: x = 1 < s_w: N = 2 + 1 + 1/4, T = 2; s = w + b, g = s + 1.
  const double r2 = 0.5 * std::sqrt(2 / 3.25);
  const double g = r1 / 2 + r1 + 1;
  EXPECT_DOUBLE_EQ(got[1].first, r1 / 2 - r2 * g / (std::sqrt(36 + g * g) * 2));
  EXPECT_DOUBLE_EQ(got[1].second, r1 - r2 * g / std::sqrt(9 + g * g));
}

TEST(UpdateRulesTest, NormalizedRescalesWeightWhenFeatureScaleGrows) {
  ModelTrainer trainer(MustCreate(HandConfig(Optimizer::kNormalized, 0.5)));
  const LinearModel& model = trainer.model();
  trainer.Learn(std::vector<float>{2}, 3);
  const double w1 = model.RawFunction().weights(0, 0);
  // A zero-gradient example (label = prediction) with x = 4 > 2 only
  // rescales: w *= 2 / 4.
  const double b1 = model.RawFunction().bias[0];
  trainer.Learn(std::vector<float>{4}, 4 * w1 + b1);
  EXPECT_DOUBLE_EQ(model.RawFunction().weights(0, 0), w1 / 2);
}

TEST(UpdateRulesTest, EveryRuleConvergesOnALinearTarget) {
  const std::vector<double> w = {1.5, -2.0, 0.25};
  for (Optimizer o : kAllOptimizers) {
    SCOPED_TRACE(OptimizerName(o));
    ModelConfig config;
    config.task = Task::kRegression;
    config.num_features = 3;
    config.optimizer = o;
    config.l2 = 0;
    ModelTrainer trainer(MustCreate(config));
    const LinearModel& model = trainer.model();
    std::mt19937 rng(5);
    std::normal_distribution<double> normal(0, 1);
    for (int i = 0; i < 20000; ++i) {
      std::vector<float> x(3);
      double y = 3;
      for (int j = 0; j < 3; ++j) {
        x[j] = static_cast<float>(10.0 * j + std::pow(10.0, j) * normal(rng));
        y += w[j] * x[j];
      }
      trainer.Learn(x, y);
    }
    const RawLinearFunction f = model.RawFunction();
    for (int j = 0; j < 3; ++j) {
      // Adam's constant step keeps each weight moving by about eta = 0.01
      // in standardized units, sd(y) / sd(x_j) = 32 / 10^j in raw ones.
      const double tolerance =
          o == Optimizer::kAdam ? 0.03 * 32 / std::pow(10.0, j) : 0.05;
      EXPECT_NEAR(f.weights(0, j), w[j], tolerance) << "weight " << j;
    }
    // Label variance is about 2.25 + 400 + 625: the fit explains ~all of it.
    EXPECT_LT(model.metrics().recent_loss, 1.0);
  }
}

TEST(UpdateRulesTest, FtrlGivesExactZerosUnderStrongL1) {
  // 200 named noise features, 3 informative ones.
  auto run = [](double l1) {
    ModelConfig config;
    config.task = Task::kBinary;
    config.num_features = 0;
    config.hash_bits = 16;
    config.optimizer = Optimizer::kFtrl;
    config.l1 = l1;
    ModelTrainer trainer(MustCreate(config));
    const LinearModel& model = trainer.model();
    std::mt19937 rng(3);
    std::uniform_int_distribution<int> noise(0, 199);
    std::bernoulli_distribution coin(0.5);
    for (int i = 0; i < 4000; ++i) {
      Input in;
      const bool y = coin(rng);
      in.Named("sig", y ? "pos" : "neg", 1);
      if (coin(rng)) in.Named("sig", "bias_like", 1);
      for (int k = 0; k < 10; ++k) {
        in.Named("noise", std::to_string(noise(rng)), 1);
      }
      trainer.Learn(in.view(), y ? 1 : 0);
    }
    return model;
  };
  const LinearModel dense = run(0);
  const LinearModel sparse = run(5);
  EXPECT_GT(dense.SparseNonZeros(), 150u);
  EXPECT_LE(sparse.SparseNonZeros(), 3u);
  EXPECT_GE(sparse.SparseNonZeros(), 1u);
  const uint32_t sig = HashNamespace("sig");
  EXPECT_NE(sparse.SparseWeight(HashSlot(HashFeatureName(sig, "pos"), 16)), 0);
  EXPECT_GT(sparse.metrics().recent_accuracy, 0.99);
}

TEST(UpdateRulesTest, NamedFeaturesLandInTheirHashedSlot) {
  ModelConfig config = HandConfig(Optimizer::kSgd, 0.01);
  config.num_features = 0;
  config.hash_bits = 12;
  ModelTrainer trainer(MustCreate(config));
  const LinearModel& model = trainer.model();
  Input in;
  in.Named("u", "alice", 2);
  trainer.Learn(in.view(), 1);
  // s = 0, g = -1, step = 0.01 (below the cap 1 / (1 + 4)): w = 0.02.
  const uint32_t slot =
      HashSlot(HashFeatureName(HashNamespace("u"), "alice"), 12);
  EXPECT_DOUBLE_EQ(model.SparseWeight(slot), 0.02);
  EXPECT_EQ(model.SparseNonZeros(), 1u);
}

TEST(UpdateRulesTest, QuadraticInteractionsExpandOnTheFly) {
  ModelConfig config = HandConfig(Optimizer::kSgd, 0.01);
  config.task = Task::kBinary;
  config.num_features = 0;
  config.hash_bits = 18;
  config.interactions = {{"a", "b"}, {"c", "c"}};
  ModelTrainer trainer(MustCreate(config));
  const LinearModel& model = trainer.model();
  Input in;
  in.Named("a", "x", 2).Named("b", "y", 3);
  in.Named("c", "p", 1).Named("c", "q", 1).Named("c", "r", 1);
  trainer.Learn(in.view(), 1);
  // 5 features + a*b (1) + pairs within c (3) = 9 active weights.
  EXPECT_EQ(model.SparseNonZeros(), 9u);
  const uint32_t hx = HashFeatureName(HashNamespace("a"), "x");
  const uint32_t hy = HashFeatureName(HashNamespace("b"), "y");
  // |x|^2 = 1 + 4 + 9 + 3 + 36 + 3 = 56: step = 0.01 (< 1 / 56);
  // g = sigmoid(0) - 1 = -0.5.
  EXPECT_DOUBLE_EQ(model.SparseWeight(HashSlot(InteractionHash(hx, hy), 18)),
                   0.01 * 0.5 * 6);
  EXPECT_DOUBLE_EQ(model.SparseWeight(HashSlot(hx, 18)), 0.01 * 0.5 * 2);
  // The interaction is used in predictions: without it the score differs.
  Input only_a;
  only_a.Named("a", "x", 2);
  Prediction with, without;
  model.Predict(in.view(), with);
  model.Predict(only_a.view(), without);
  EXPECT_NE(with.value, without.value);
}

TEST(UpdateRulesTest, SparseAndDenseMix) {
  ModelConfig config;
  config.task = Task::kBinary;
  config.num_features = 2;
  ModelTrainer trainer(MustCreate(config));
  const LinearModel& model = trainer.model();
  std::mt19937 rng(8);
  std::normal_distribution<float> normal(0, 1);
  std::bernoulli_distribution coin(0.5);
  for (int i = 0; i < 3000; ++i) {
    // The label depends on a dense feature and a named flag: neither part
    // alone predicts it well (about 75% each); both together do.
    Input in;
    in.dense = {normal(rng), normal(rng)};
    const bool flag = coin(rng);
    in.Named("f", flag ? "on" : "off", 1);
    const double y = in.dense[0] + (flag ? 1 : -1) > 0 ? 1 : 0;
    trainer.Learn(in.view(), y);
  }
  EXPECT_GT(model.metrics().recent_accuracy, 0.9);
}

TEST(UpdateRulesTest, RestoredModelContinuesBitIdenticallyForEveryRule) {
  for (Optimizer o : kAllOptimizers) {
    for (Task task : {Task::kRegression, Task::kBinary, Task::kMulticlass}) {
      SCOPED_TRACE(absl::StrCat(OptimizerName(o), " ", TaskName(task)));
      ModelConfig config;
      config.task = task;
      config.num_features = 3;
      config.num_classes = task == Task::kMulticlass ? 3 : 0;
      config.optimizer = o;
      config.hash_bits = 10;
      config.l1 = 1e-4;
      config.interactions = {{"a", "b"}};
      std::vector<Input> stream;
      std::mt19937 rng(17);
      std::normal_distribution<float> normal(0, 1);
      std::uniform_int_distribution<int> word(0, 20);
      std::vector<double> labels;
      for (int i = 0; i < 600; ++i) {
        Input in;
        in.dense = {normal(rng), 100 * normal(rng), normal(rng) + 5};
        in.Named("a", std::to_string(word(rng)), 1)
            .Named("b", std::to_string(word(rng)), normal(rng));
        stream.push_back(in);
        const double score = in.dense[0] - in.values[1];
        labels.push_back(task == Task::kRegression ? score
                         : task == Task::kBinary   ? (score > 0)
                                                   : (score > 0) + (score > 1));
      }
      ModelTrainer original_trainer(MustCreate(config));
      const LinearModel& original = original_trainer.model();
      for (int i = 0; i < 400; ++i)
        original_trainer.Learn(stream[i].view(), labels[i]);
      absl::StatusOr<LinearModel> loaded = LinearModel::FromState(
          original.config(), original.version(), original.ExportState());
      ASSERT_THAT(loaded, IsOk());
      ModelTrainer restored(*std::move(loaded));
      for (int i = 400; i < 600; ++i) {
        original_trainer.Learn(stream[i].view(), labels[i]);
        restored.Learn(stream[i].view(), labels[i]);
      }
      const auto a = original.ExportState(), b = restored.model().ExportState();
      ASSERT_EQ(a.size(), b.size());
      for (size_t t = 0; t < a.size(); ++t) {
        EXPECT_EQ(a[t].shape, b[t].shape) << a[t].name;
        EXPECT_EQ(a[t].values, b[t].values) << a[t].name;  // bit-identical
      }
      EXPECT_GT(original.SparseNonZeros(), 0u);
    }
  }
}

TEST(UpdateRulesTest, NonFiniteUpdateIsSkippedAndCounted) {
  ModelTrainer trainer(MustCreate(HandConfig(Optimizer::kAdagrad, 0.5)));
  const LinearModel& model = trainer.model();
  trainer.Learn(std::vector<float>{1}, 2);
  const auto before = model.ExportState();
  // (g x)^2 = (1e150 * 3e38)^2 overflows: the update is refused whole.
  trainer.Learn(std::vector<float>{3e38f}, -1e150);
  EXPECT_EQ(model.metrics().skipped_updates, 1u);
  const auto after = model.ExportState();
  for (size_t t = 0; t < before.size(); ++t) {
    if (before[t].name == "weights" || before[t].name == "bias" ||
        before[t].name == "dense_optimizer_state") {
      EXPECT_EQ(before[t].values, after[t].values) << before[t].name;
    }
    for (double v : after[t].values) ASSERT_TRUE(std::isfinite(v));
  }
  trainer.Learn(std::vector<float>{1}, 2);
  EXPECT_EQ(model.metrics().skipped_updates, 1u);
}

TEST(UpdateRulesTest, GradientClippingBoundsTheStep) {
  ModelConfig config = HandConfig(Optimizer::kSgd, 0.01);
  config.max_gradient = 0.5;
  ModelTrainer trainer(MustCreate(config));
  const LinearModel& model = trainer.model();
  trainer.Learn(std::vector<float>{1}, 100);  // g = -100, clipped to -0.5
  EXPECT_DOUBLE_EQ(model.RawFunction().bias[0], 0.01 * 0.5);
}

TEST(UpdateRulesTest, ClassWeightsScaleTheStep) {
  ModelConfig config = HandConfig(Optimizer::kSgd, 0.01);
  config.task = Task::kBinary;
  config.class_weights = {1, 3};
  ModelTrainer trainer(MustCreate(config));
  const LinearModel& model = trainer.model();
  trainer.Learn(std::vector<float>{1}, 1);  // g = -0.5, weight 3
  EXPECT_DOUBLE_EQ(model.RawFunction().bias[0], 0.03 * 0.5);
}

TEST(UpdateRulesTest, FeaturesSpanningSixOrdersOfMagnitudeDoNotDiverge) {
  // Feature j has scale 10^(j - 3), j = 0..6; y is linear in all of them.
  for (Optimizer o : kAllOptimizers) {
    SCOPED_TRACE(OptimizerName(o));
    ModelConfig config;
    config.task = Task::kRegression;
    config.num_features = 7;
    config.optimizer = o;
    ModelTrainer trainer(MustCreate(config));
    const LinearModel& model = trainer.model();
    std::mt19937 rng(2);
    std::normal_distribution<double> normal(0, 1);
    for (int i = 0; i < 20000; ++i) {
      std::vector<float> x(7);
      double y = 0;
      for (int j = 0; j < 7; ++j) {
        const double scale = std::pow(10.0, j - 3);
        x[j] = static_cast<float>(scale * (1 + normal(rng)));
        y += (j % 2 ? 1 : -1) * x[j] / scale;  // each feature matters
      }
      trainer.Learn(x, y + 0.1 * normal(rng));
    }
    const MetricsSummary m = model.metrics();
    EXPECT_TRUE(std::isfinite(m.progressive_loss));
    EXPECT_EQ(m.skipped_updates, 0u);
    // The label variance is 7; a fit leaves the noise (0.01) and a bit more.
    EXPECT_LT(m.recent_loss, 0.1);
  }
}

TEST(UpdateRulesTest, RecentLossRecoversAfterConceptDrift) {
  for (Optimizer o : kAllOptimizers) {
    SCOPED_TRACE(OptimizerName(o));
    ModelConfig config;
    config.task = Task::kRegression;
    config.num_features = 4;
    config.optimizer = o;
    ModelTrainer trainer(MustCreate(config));
    const LinearModel& model = trainer.model();
    std::mt19937 rng(4);
    std::normal_distribution<double> normal(0, 1);
    auto feed = [&](const std::vector<double>& w, int n) {
      for (int i = 0; i < n; ++i) {
        std::vector<float> x(4);
        double y = 0;
        for (int j = 0; j < 4; ++j) {
          x[j] = static_cast<float>(normal(rng));
          y += w[j] * x[j];
        }
        trainer.Learn(x, y + 0.1 * normal(rng));
      }
    };
    feed({1, -1, 2, 0.5}, 10000);
    const double before = model.metrics().recent_loss;
    feed({-2, 1, 0.5, 1}, 200);  // drift: the recent window sees it
    const double during = model.metrics().recent_loss;
    feed({-2, 1, 0.5, 1}, 20000);
    const double after = model.metrics().recent_loss;
    EXPECT_GT(during, 10 * before);
    EXPECT_LT(after, 0.1 * during);
    EXPECT_LT(after, 0.1);  // label variance is about 6
  }
}

}  // namespace
}  // namespace streamfit
