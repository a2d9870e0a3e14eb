#include "core/model/linear_model.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "tests/testing/model_state.h"
#include "tests/testing/status_matchers.h"

namespace streamfit {
namespace {

using ::streamfit::testing::ExpectIdenticalState;
using ::streamfit::testing::IsOk;
using ::streamfit::testing::StatusIs;
using ::testing::HasSubstr;

// A stream of labeled examples.
struct Stream {
  uint32_t num_features = 0;
  std::vector<std::vector<float>> x;
  std::vector<double> y;
  size_t size() const { return y.size(); }
};

ModelConfig Config(Task task, uint32_t num_features, uint32_t num_classes = 0) {
  ModelConfig config;
  config.task = task;
  config.num_features = num_features;
  config.num_classes = num_classes;
  return config;
}

LinearModel MustCreate(const ModelConfig& config) {
  absl::StatusOr<LinearModel> model = LinearModel::Create(config);
  EXPECT_THAT(model, IsOk());
  return *std::move(model);
}

void LearnAll(LinearModel& model, const Stream& s, size_t begin, size_t end) {
  for (size_t i = begin; i < end; ++i) model.Learn(s.x[i], s.y[i]);
}

Prediction PredictOf(const LinearModel& model, std::span<const float> x) {
  Prediction p;
  model.Predict(x, p);
  return p;
}

// Features with a different offset and scale per coordinate; y = w.x + b.
Stream LinearStream(int n, const std::vector<double>& w, double b,
                    bool varied_scales, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(0, 1);
  Stream s;
  s.num_features = w.size();
  for (int i = 0; i < n; ++i) {
    std::vector<float> x(w.size());
    double y = b;
    for (size_t j = 0; j < w.size(); ++j) {
      const double scale = varied_scales ? std::pow(10.0, j) * 0.1 : 1;
      const double offset = varied_scales ? 3.0 * j : 0;
      x[j] = static_cast<float>(offset + scale * normal(rng));
      y += w[j] * x[j];
    }
    s.x.push_back(std::move(x));
    s.y.push_back(y);
  }
  return s;
}

// Points labeled by the nearest of `num_classes` well separated centers, or
// for num_classes == 0 binary labels by the side of a hyperplane with a
// margin.
Stream SeparableStream(int n, uint32_t num_features, uint32_t num_classes,
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

double Accuracy(const LinearModel& model, const Stream& s) {
  int correct = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const Prediction p = PredictOf(model, s.x[i]);
    if (model.config().task == Task::kBinary) {
      correct += (p.value >= 0.5) == (s.y[i] == 1);
    } else {
      correct += p.value == s.y[i];
    }
  }
  return static_cast<double>(correct) / s.size();
}

std::vector<double>* FindTensor(std::vector<NamedTensor>& state,
                                const std::string& name) {
  for (NamedTensor& t : state) {
    if (t.name == name) return &t.values;
  }
  return nullptr;
}

// One feature, raw inputs, squared loss: the update is easy to do by hand.
ModelConfig HandConfig(Schedule schedule, double l2) {
  ModelConfig config = Config(Task::kRegression, 1);
  config.standardize = false;
  config.optimizer = Optimizer::kSgd;
  config.schedule = schedule;
  config.learning_rate = 0.1;
  config.power_t = 0.5;
  config.l2 = l2;
  return config;
}

TEST(LinearModelTest, CreateRejectsInvalidConfig) {
  EXPECT_THAT(LinearModel::Create(Config(Task::kUnspecified, 2)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("task")));
  EXPECT_THAT(
      LinearModel::Create(Config(Task::kMulticlass, 2, 1)),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("num_classes")));
}

TEST(LinearModelTest, CreateFillsDefaultsAndStartsAtVersionZero) {
  const LinearModel model = MustCreate(Config(Task::kBinary, 3));
  EXPECT_EQ(model.version(), 0u);
  EXPECT_EQ(model.config().schedule, Schedule::kInvScaling);
  EXPECT_TRUE(model.config().learning_rate.has_value());
  EXPECT_EQ(PredictOf(model, std::vector<float>{1, 2, 3}).value, 0.5);
}

TEST(LinearModelTest, ConstantScheduleStepsMatchHandComputation) {
  LinearModel model = MustCreate(HandConfig(Schedule::kConstant, 0));
  // Step 1 at w = b = 0: x = 2, y = 3, s = 0, g = s - y = -3.
  model.Learn(std::vector<float>{2}, 3);
  RawLinearFunction f = model.RawFunction();
  EXPECT_DOUBLE_EQ(f.weights(0, 0), 0.1 * 3 * 2);  // 0.6
  EXPECT_DOUBLE_EQ(f.bias[0], 0.1 * 3);            // 0.3
  // Step 2: x = 1, y = -1, s = 0.9, g = 1.9.
  model.Learn(std::vector<float>{1}, -1);
  f = model.RawFunction();
  EXPECT_DOUBLE_EQ(f.weights(0, 0), 0.6 - 0.1 * 1.9);
  EXPECT_DOUBLE_EQ(f.bias[0], 0.3 - 0.1 * 1.9);
  EXPECT_EQ(model.version(), 2u);
  EXPECT_DOUBLE_EQ(PredictOf(model, std::vector<float>{0.5}).value,
                   (0.6 - 0.19) * 0.5 + (0.3 - 0.19));
  // Predictions are clamped to the labels seen, [-1, 3], widened by half
  // that range on each side.
  EXPECT_DOUBLE_EQ(PredictOf(model, std::vector<float>{100}).value, 5);
}

TEST(LinearModelTest, InvScalingScheduleStepsMatchHandComputation) {
  LinearModel model = MustCreate(HandConfig(Schedule::kInvScaling, 0));
  // t = 1: eta = 0.1 / 1^0.5 = 0.1, as above.
  model.Learn(std::vector<float>{2}, 3);
  RawLinearFunction f = model.RawFunction();
  EXPECT_DOUBLE_EQ(f.weights(0, 0), 0.6);
  EXPECT_DOUBLE_EQ(f.bias[0], 0.3);
  // t = 2: eta = 0.1 / sqrt(2).
  const double eta2 = 0.1 / std::sqrt(2.0);
  model.Learn(std::vector<float>{1}, -1);
  f = model.RawFunction();
  EXPECT_DOUBLE_EQ(f.weights(0, 0), 0.6 - eta2 * 1.9);
  EXPECT_DOUBLE_EQ(f.bias[0], 0.3 - eta2 * 1.9);
  // t = 3: eta = 0.1 / sqrt(3); x = -2, y = 0.
  const double w2 = 0.6 - eta2 * 1.9, b2 = 0.3 - eta2 * 1.9;
  const double g3 = w2 * -2 + b2;
  const double eta3 = 0.1 / std::sqrt(3.0);
  model.Learn(std::vector<float>{-2}, 0);
  f = model.RawFunction();
  EXPECT_DOUBLE_EQ(f.weights(0, 0), w2 - eta3 * g3 * -2);
  EXPECT_DOUBLE_EQ(f.bias[0], b2 - eta3 * g3);
}

TEST(LinearModelTest, L2DecaysWeightsButNotBias) {
  LinearModel model = MustCreate(HandConfig(Schedule::kConstant, 0.5));
  model.Learn(std::vector<float>{2}, 3);  // w = 0: decay has no effect
  model.Learn(std::vector<float>{1}, -1);
  // W -= eta (g x + l2 W) with g from the old weights: s = 0.9, g = 1.9.
  const RawLinearFunction f = model.RawFunction();
  EXPECT_DOUBLE_EQ(f.weights(0, 0), 0.6 - 0.1 * (1.9 + 0.5 * 0.6));
  EXPECT_DOUBLE_EQ(f.bias[0], 0.3 - 0.1 * 1.9);
}

TEST(LinearModelTest, BinaryStepMatchesHandComputation) {
  ModelConfig config = HandConfig(Schedule::kConstant, 0);
  config.task = Task::kBinary;
  LinearModel model = MustCreate(config);
  // s = 0, p = 0.5, g = p - y = -0.5.
  model.Learn(std::vector<float>{2}, 1);
  const RawLinearFunction f = model.RawFunction();
  EXPECT_DOUBLE_EQ(f.weights(0, 0), 0.1 * 0.5 * 2);
  EXPECT_DOUBLE_EQ(f.bias[0], 0.1 * 0.5);
  EXPECT_DOUBLE_EQ(PredictOf(model, std::vector<float>{1}).value,
                   1 / (1 + std::exp(-0.15)));
}

TEST(LinearModelTest, StepIsCappedToFitTheExampleExactly) {
  ModelConfig config = HandConfig(Schedule::kConstant, 0);
  config.learning_rate = 10;
  LinearModel model = MustCreate(config);
  // step = min(10, 1 / (|z|^2 + 1)) = 1 / 5: w = 0.2 * 3 * 2, b = 0.2 * 3,
  // which predicts y = 3 at x = 2 exactly.
  model.Learn(std::vector<float>{2}, 3);
  const RawLinearFunction f = model.RawFunction();
  EXPECT_DOUBLE_EQ(f.weights(0, 0), 1.2);
  EXPECT_DOUBLE_EQ(f.bias[0], 0.6);
  EXPECT_DOUBLE_EQ(PredictOf(model, std::vector<float>{2}).value, 3);
}

TEST(LinearModelTest, HugeImportanceWeightKeepsModelFinite) {
  for (Task task : {Task::kRegression, Task::kBinary, Task::kMulticlass}) {
    SCOPED_TRACE(TaskName(task));
    LinearModel model =
        MustCreate(Config(task, 2, task == Task::kMulticlass ? 3 : 0));
    std::mt19937 rng(12);
    std::normal_distribution<float> normal(0, 1);
    for (int i = 0; i < 50; ++i) {
      const std::vector<float> x = {normal(rng), normal(rng)};
      model.Learn(x, i % 2, i == 20 ? 1e30 : 1);
    }
    for (const NamedTensor& t : model.ExportState()) {
      for (double v : t.values) ASSERT_TRUE(std::isfinite(v)) << t.name;
    }
    EXPECT_FALSE(std::isnan(PredictOf(model, std::vector<float>{1, 1}).value));
  }
}

TEST(LinearModelTest, ZeroWeightExampleDoesNotChangeParameters) {
  LinearModel model = MustCreate(HandConfig(Schedule::kConstant, 0));
  model.Learn(std::vector<float>{2}, 3);
  model.Learn(std::vector<float>{5}, 100, 0);
  const RawLinearFunction f = model.RawFunction();
  EXPECT_DOUBLE_EQ(f.weights(0, 0), 0.6);
  EXPECT_DOUBLE_EQ(f.bias[0], 0.3);
  EXPECT_EQ(model.version(), 2u);
}

TEST(LinearModelTest, RegressionPredictsRunningMeanUntilLabelsDiffer) {
  LinearModel model = MustCreate(Config(Task::kRegression, 2));
  model.Learn(std::vector<float>{1, 2}, 5);
  EXPECT_EQ(PredictOf(model, std::vector<float>{7, -3}).value, 5);
  model.Learn(std::vector<float>{3, 1}, 5);
  EXPECT_EQ(PredictOf(model, std::vector<float>{0, 0}).value, 5);
}

TEST(LinearModelTest, RegressionConvergesToTrueWeights) {
  const std::vector<double> true_w = {1.5, -2.0, 0.25};
  constexpr double kTrueBias = 3.0;
  for (bool standardize : {true, false}) {
    SCOPED_TRACE(standardize ? "standardized" : "raw");
    const Stream s =
        LinearStream(20000, true_w, kTrueBias, /*varied_scales=*/standardize,
                     /*seed=*/21);
    ModelConfig config = Config(Task::kRegression, 3);
    config.standardize = standardize;
    config.l2 = 0;
    config.optimizer = Optimizer::kSgd;
    if (!standardize) {
      config.schedule = Schedule::kConstant;
      config.learning_rate = 0.01;
    }
    LinearModel model = MustCreate(config);
    LearnAll(model, s, 0, s.size());
    const RawLinearFunction f = model.RawFunction();
    ASSERT_EQ(f.weights.rows(), 1);
    ASSERT_EQ(f.weights.cols(), 3);
    for (int j = 0; j < 3; ++j) {
      EXPECT_NEAR(f.weights(0, j), true_w[j], 1e-2) << "weight " << j;
    }
    EXPECT_NEAR(f.bias[0], kTrueBias, 1e-2);
    EXPECT_NEAR(PredictOf(model, s.x[0]).value, s.y[0], 1e-2);
    EXPECT_LT(model.metrics().recent_loss, 1e-4);
    EXPECT_EQ(model.metrics().samples_seen, 20000u);
  }
}

TEST(LinearModelTest, RawFunctionPredictsLikePredict) {
  const Stream s = SeparableStream(500, 4, 0, 5);
  for (Task task : {Task::kRegression, Task::kBinary}) {
    SCOPED_TRACE(TaskName(task));
    LinearModel model = MustCreate(Config(task, 4));
    LearnAll(model, s, 0, s.size());
    const RawLinearFunction f = model.RawFunction();
    for (int i = 0; i < 20; ++i) {
      double raw = f.bias[0];
      for (int j = 0; j < 4; ++j) raw += f.weights(0, j) * s.x[i][j];
      // Regression estimates are clamped to the labels seen, {0, 1},
      // widened by half their range.
      const double expected = task == Task::kBinary
                                  ? 1 / (1 + std::exp(-raw))
                                  : std::clamp(raw, -0.5, 1.5);
      EXPECT_NEAR(PredictOf(model, s.x[i]).value, expected, 1e-9);
    }
  }
}

TEST(LinearModelTest, BinaryReachesHighAccuracyOnSeparableData) {
  const Stream train = SeparableStream(5000, 5, 0, 1);
  const Stream test = SeparableStream(1000, 5, 0, 2);
  LinearModel model = MustCreate(Config(Task::kBinary, 5));
  LearnAll(model, train, 0, train.size());
  EXPECT_GT(Accuracy(model, test), 0.97);
  EXPECT_GT(model.metrics().recent_accuracy, 0.95);
  EXPECT_GT(model.metrics().progressive_accuracy, 0.9);
  const Prediction p = PredictOf(model, test.x[0]);
  EXPECT_GE(p.value, 0);
  EXPECT_LE(p.value, 1);
  EXPECT_TRUE(p.scores.empty());
}

TEST(LinearModelTest, MulticlassReachesHighAccuracyOnSeparableData) {
  const Stream train = SeparableStream(5000, 6, 3, 3);
  const Stream test = SeparableStream(1000, 6, 3, 4);
  LinearModel model = MustCreate(Config(Task::kMulticlass, 6, 3));
  LearnAll(model, train, 0, train.size());
  EXPECT_GT(Accuracy(model, test), 0.98);
  EXPECT_GT(model.metrics().recent_accuracy, 0.97);
  const Prediction p = PredictOf(model, test.x[0]);
  ASSERT_EQ(p.scores.size(), 3u);
  double sum = 0;
  for (double q : p.scores) sum += q;
  EXPECT_NEAR(sum, 1, 1e-12);
  EXPECT_EQ(p.scores[static_cast<int>(p.value)],
            *std::max_element(p.scores.begin(), p.scores.end()));
}

TEST(LinearModelTest, FromStateContinuesBitIdentically) {
  struct Case {
    ModelConfig config;
    Stream stream;
  };
  std::vector<Case> cases = {
      {Config(Task::kRegression, 3), LinearStream(800, {1, -1, 2}, 1, true, 7)},
      {Config(Task::kBinary, 4), SeparableStream(800, 4, 0, 8)},
      {Config(Task::kMulticlass, 5, 4), SeparableStream(800, 5, 4, 9)},
  };
  // Constant schedule and raw features take the other code paths.
  cases.push_back(cases[0]);
  cases.back().config.standardize = false;
  cases.back().config.schedule = Schedule::kConstant;
  cases.back().config.learning_rate = 0.01;
  cases.back().config.l2 = 0.01;
  for (const Case& c : cases) {
    SCOPED_TRACE(TaskName(c.config.task));
    LinearModel original = MustCreate(c.config);
    LearnAll(original, c.stream, 0, 500);
    absl::StatusOr<LinearModel> restored = LinearModel::FromState(
        c.config, original.version(), original.ExportState());
    ASSERT_THAT(restored, IsOk());
    ExpectIdenticalState(original, *restored);
    LearnAll(original, c.stream, 500, c.stream.size());
    LearnAll(*restored, c.stream, 500, c.stream.size());
    ExpectIdenticalState(original, *restored);
    EXPECT_EQ(PredictOf(original, c.stream.x[3]).value,
              PredictOf(*restored, c.stream.x[3]).value);
  }
}

TEST(LinearModelTest, FromStateRejectsMissingTensor) {
  LinearModel model = MustCreate(Config(Task::kBinary, 2));
  model.Learn(std::vector<float>{1, 2}, 1);
  std::vector<NamedTensor> state = model.ExportState();
  for (size_t i = 0; i < state.size(); ++i) {
    std::vector<NamedTensor> partial = state;
    const std::string name = partial[i].name;
    partial.erase(partial.begin() + i);
    // States exported before drift detection have no drift_state: the
    // monitor then starts afresh.
    if (name == "drift_state") {
      EXPECT_THAT(
          LinearModel::FromState(model.config(), model.version(), partial),
          IsOk());
      continue;
    }
    EXPECT_THAT(
        LinearModel::FromState(model.config(), model.version(), partial),
        StatusIs(absl::StatusCode::kInvalidArgument))
        << "without " << name;
  }
}

TEST(LinearModelTest, FromStateRejectsWrongShape) {
  LinearModel model = MustCreate(Config(Task::kBinary, 2));
  std::vector<NamedTensor> state = model.ExportState();
  FindTensor(state, "weights")->push_back(0);
  EXPECT_THAT(
      LinearModel::FromState(model.config(), 0, state),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("weights")));
  // A state for 2 features does not fit a 3-feature config.
  EXPECT_THAT(
      LinearModel::FromState(Config(Task::kBinary, 3), 0, model.ExportState()),
      StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(LinearModelTest, FromStateRejectsNonFiniteWeight) {
  LinearModel model = MustCreate(Config(Task::kBinary, 2));
  std::vector<NamedTensor> state = model.ExportState();
  (*FindTensor(state, "weights"))[1] = std::nan("");
  EXPECT_THAT(
      LinearModel::FromState(model.config(), 0, state),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("weights")));
  state = model.ExportState();
  (*FindTensor(state, "bias"))[0] = INFINITY;
  EXPECT_THAT(LinearModel::FromState(model.config(), 0, state),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("bias")));
}

TEST(LinearModelTest, FromStateRejectsInvalidConfig) {
  LinearModel model = MustCreate(Config(Task::kBinary, 2));
  EXPECT_THAT(LinearModel::FromState(Config(Task::kUnspecified, 2), 0,
                                     model.ExportState()),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(LinearModelTest, SameStreamGivesBitIdenticalState) {
  const Stream s = SeparableStream(2000, 8, 5, 13);
  LinearModel a = MustCreate(Config(Task::kMulticlass, 8, 5));
  LinearModel b = MustCreate(Config(Task::kMulticlass, 8, 5));
  LearnAll(a, s, 0, s.size());
  LearnAll(b, s, 0, s.size());
  ExpectIdenticalState(a, b);
  // A different order gives a different model (the check can fail).
  LinearModel c = MustCreate(Config(Task::kMulticlass, 8, 5));
  for (size_t i = s.size(); i-- > 0;) c.Learn(s.x[i], s.y[i]);
  EXPECT_NE(a.ExportState()[0].values, c.ExportState()[0].values);
}

TEST(LinearModelTest, CopiesAreIndependent) {
  const Stream s = SeparableStream(200, 3, 0, 14);
  LinearModel a = MustCreate(Config(Task::kBinary, 3));
  LearnAll(a, s, 0, 100);
  LinearModel copy = a;
  LearnAll(a, s, 100, 200);
  EXPECT_EQ(copy.version(), 100u);
  EXPECT_EQ(a.version(), 200u);
  LearnAll(copy, s, 100, 200);
  ExpectIdenticalState(a, copy);
}

TEST(LinearModelTest, PredictNeverReturnsNaNOnFeaturesOfExtremeScales) {
  // Feature magnitudes drawn log-uniformly from 1e-6 to 1e6, either sign.
  constexpr uint32_t kFeatures = 4;
  std::mt19937 rng(99);
  std::uniform_real_distribution<double> exponent(-6, 6);
  std::bernoulli_distribution negative(0.3);
  auto draw = [&] {
    std::vector<float> x(kFeatures);
    for (float& v : x) {
      v = static_cast<float>((negative(rng) ? -1 : 1) *
                             std::pow(10.0, exponent(rng)));
    }
    return x;
  };
  const std::vector<std::vector<float>> probes = {
      {1e6f, 1e6f, 1e6f, 1e6f},
      {-1e6f, -1e6f, -1e6f, -1e6f},
      {1e-6f, 1e-6f, 1e-6f, 1e-6f},
      {1e6f, -1e6f, 1e-6f, -1e-6f},
      {0, 0, 0, 0},
  };
  for (Task task : {Task::kRegression, Task::kBinary, Task::kMulticlass}) {
    SCOPED_TRACE(TaskName(task));
    LinearModel model =
        MustCreate(Config(task, kFeatures, task == Task::kMulticlass ? 3 : 0));
    for (int i = 0; i < 3000; ++i) {
      const std::vector<float> x = draw();
      double label;
      if (task == Task::kRegression) {
        label = 2.0 * x[0] - x[1] + 0.5 * x[3];
      } else if (task == Task::kBinary) {
        label = x[0] > x[1] ? 1 : 0;
      } else {
        label = x[0] > 0 ? (x[1] > 0 ? 2 : 1) : 0;
      }
      const Prediction p = PredictOf(model, x);
      ASSERT_FALSE(std::isnan(p.value)) << "before example " << i;
      for (double q : p.scores) ASSERT_FALSE(std::isnan(q));
      model.Learn(x, label);
    }
    for (const auto& x : probes) {
      const Prediction p = PredictOf(model, x);
      EXPECT_FALSE(std::isnan(p.value)) << x[0] << " " << x[1];
      for (double q : p.scores) EXPECT_FALSE(std::isnan(q));
    }
    for (const NamedTensor& t : model.ExportState()) {
      for (double v : t.values) ASSERT_TRUE(std::isfinite(v)) << t.name;
    }
    EXPECT_FALSE(std::isnan(model.metrics().progressive_loss));
  }
}

TEST(LinearModelTest, ImportanceWeightTwoIsLikeSeeingTheExampleTwice) {
  for (Task task : {Task::kRegression, Task::kBinary}) {
    SCOPED_TRACE(TaskName(task));
    const Stream s = task == Task::kRegression
                         ? LinearStream(300, {1, -2, 0.5}, 1, false, 31)
                         : SeparableStream(300, 3, 0, 32);
    ModelConfig config = Config(task, 3);
    config.standardize = false;
    config.optimizer = Optimizer::kSgd;
    config.schedule = Schedule::kConstant;
    config.learning_rate = 0.002;
    config.l2 = 0;
    LinearModel weighted = MustCreate(config);
    LinearModel repeated = MustCreate(config);
    LinearModel once = MustCreate(config);
    for (size_t i = 0; i < s.size(); ++i) {
      weighted.Learn(s.x[i], s.y[i], 2);
      repeated.Learn(s.x[i], s.y[i]);
      repeated.Learn(s.x[i], s.y[i]);
      once.Learn(s.x[i], s.y[i]);
    }
    const RawLinearFunction w = weighted.RawFunction();
    const RawLinearFunction r = repeated.RawFunction();
    const RawLinearFunction o = once.RawFunction();
    const double scale = r.weights.norm() + std::abs(r.bias[0]);
    const double diff =
        (w.weights - r.weights).norm() + std::abs(w.bias[0] - r.bias[0]);
    const double diff_once =
        (o.weights - r.weights).norm() + std::abs(o.bias[0] - r.bias[0]);
    EXPECT_LT(diff, 0.05 * scale);
    // Much closer than learning each example once.
    EXPECT_LT(diff, 0.2 * diff_once);
  }
}

TEST(LinearModelTest, FromParametersPredictsWithGivenStatistics) {
  ModelConfig config = Config(Task::kRegression, 2);
  absl::StatusOr<ModelConfig> full = WithDefaults(config);
  ASSERT_THAT(full, IsOk());
  RunningStats features(2), labels(1);
  features.Add(std::vector<float>{0, 10});
  features.Add(std::vector<float>{2, 30});  // mean (1, 20), sd (1, 10)
  labels.Add(100.0);
  labels.Add(120.0);  // mean 110, sd 10
  Eigen::MatrixXd w(1, 2);
  w << 0.5, -1;
  Eigen::VectorXd b(1);
  b << 0.25;
  const LinearModel model =
      LinearModel::FromParameters(*full, features, labels, w, b);
  EXPECT_EQ(model.version(), 0u);
  // z = ((3 - 1) / 1, (0 - 20) / 10) = (2, -2); s = 1 + 2 + 0.25 = 3.25.
  EXPECT_DOUBLE_EQ(PredictOf(model, std::vector<float>{3, 0}).value,
                   110 + 10 * 3.25);
}

// A model with some of everything in its state: dense and hashed weights,
// optimizer values, statistics and metrics.
LinearModel Trained() {
  ModelConfig config = Config(Task::kRegression, 2);
  config.hash_bits = 6;
  LinearModel model = MustCreate(config);
  const std::vector<float> dense = {1, 2};
  const std::vector<uint32_t> hashes = {7, 11}, namespaces = {0, 0};
  const std::vector<float> values = {1, -1};
  for (int i = 0; i < 50; ++i) {
    model.Learn(ExampleView{dense, hashes, namespaces, values}, i % 7);
  }
  return model;
}

absl::Status FromStateWith(const LinearModel& model, const std::string& name,
                           size_t index, double value) {
  std::vector<NamedTensor> state = model.ExportState();
  (*FindTensor(state, name))[index] = value;
  return LinearModel::FromState(model.config(), model.version(), state)
      .status();
}

TEST(LinearModelTest, FromStateRefusesCountsThatAreNotWholeNonNegative) {
  const LinearModel model = Trained();
  ASSERT_THAT(LinearModel::FromState(model.config(), model.version(),
                                     model.ExportState()),
              IsOk());
  struct Case {
    const char* tensor;
    size_t index;
    double value;
    const char* field;
  };
  for (const Case& c : std::vector<Case>{
           {"optimizer", 5, -1, "optimizer[5]"},  // skipped_updates
           {"optimizer", 0, 2.5, "optimizer[0]"},
           {"feature_count", 0, -5, "feature_count[0]"},
           {"label_count", 0, 1e30, "label_count[0]"},
           {"metric_sums", 0, -1, "metric_sums[0]"},
           {"sparse_slots", 0, 64, "sparse_slots[0]"},   // past 2^6 slots
           {"sparse_slots", 1, 0.5, "sparse_slots[1]"},  // not whole
       }) {
    EXPECT_THAT(
        FromStateWith(model, c.tensor, c.index, c.value),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.field)))
        << c.field << " = " << c.value;
  }
}

TEST(LinearModelTest, FromStateRefusesStatisticsOutOfRange) {
  const LinearModel model = Trained();
  struct Case {
    const char* tensor;
    size_t index;
    double value;
  };
  for (const Case& c : std::vector<Case>{
           {"feature_mean", 0, 1e219},
           {"label_mean", 0, -1e300},
           {"feature_m2", 1, -1},
           {"label_m2", 0, 1e300},
           {"feature_inv_std", 0, 0},
           {"feature_inv_std", 1, -2},
           {"label_range", 1, 1e200},
           {"optimizer", 3, 2},  // beta1^t
           {"dense_optimizer_state", 0, -1},
           {"sparse_state", 1, -1},  // a sum of squared gradients
           {"metric_recent_correct", 0, 3},
       }) {
    EXPECT_THAT(
        FromStateWith(model, c.tensor, c.index, c.value),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.tensor)))
        << c.tensor << "[" << c.index << "] = " << c.value;
  }
}

TEST(LinearModelTest, FromStateRefusesATensorOfAnotherShape) {
  const LinearModel model = Trained();
  std::vector<NamedTensor> state = model.ExportState();
  for (NamedTensor& t : state) {
    if (t.name == "weights") t.shape = {2, 1};  // same size, other shape
  }
  EXPECT_THAT(LinearModel::FromState(model.config(), model.version(), state),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("weights has shape [2, 1]")));
}

TEST(LinearModelTest, FromStateRefusesDuplicateSparseSlots) {
  const LinearModel model = Trained();
  std::vector<NamedTensor> state = model.ExportState();
  std::vector<double>& slots = *FindTensor(state, "sparse_slots");
  ASSERT_GE(slots.size(), 2u);
  slots[1] = slots[0];
  EXPECT_THAT(LinearModel::FromState(model.config(), model.version(), state),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("sparse_slots[1]")));
}

TEST(LinearModelTest, LabelsAtTheInputLimitKeepEveryStatisticFinite) {
  // Labels of +-1e18 (the validation limit) and features of up to 1e18: the
  // label variance sum stays far from overflowing, every prediction is
  // finite and the state decodes again.
  for (LossKind loss : {LossKind::kSquared, LossKind::kHuber}) {
    ModelConfig config = Config(Task::kRegression, 2);
    config.loss = loss;
    LinearModel model = MustCreate(config);
    for (int i = 0; i < 2000; ++i) {
      const std::vector<float> x = {i % 2 ? 1e18f : -1e18f,
                                    static_cast<float>(i)};
      model.Learn(x, i % 3 ? kMaxAbsValue : -kMaxAbsValue);
      const Prediction p = PredictOf(model, x);
      ASSERT_TRUE(std::isfinite(p.value)) << "after example " << i;
    }
    const std::vector<NamedTensor> state = model.ExportState();
    for (const NamedTensor& t : state) {
      for (double v : t.values) ASSERT_TRUE(std::isfinite(v)) << t.name;
    }
    EXPECT_THAT(LinearModel::FromState(model.config(), model.version(), state),
                IsOk());
    EXPECT_TRUE(std::isfinite(model.metrics().progressive_loss));
  }
}

TEST(LinearModelTest, PredictServesNoNaNFromWeightsThatOverflowTheScore) {
  // Weights a state may hold (finite) whose score overflows: +inf from one
  // feature and -inf from the other would make NaN.
  for (Task task : {Task::kRegression, Task::kBinary, Task::kMulticlass}) {
    SCOPED_TRACE(TaskName(task));
    ModelConfig config = Config(task, 2, task == Task::kMulticlass ? 3 : 0);
    config.standardize = false;
    const LinearModel model = MustCreate(config);
    std::vector<NamedTensor> state = model.ExportState();
    std::vector<double>& weights = *FindTensor(state, "weights");
    for (size_t i = 0; i < weights.size(); ++i) {
      weights[i] = i % 2 ? -1e308 : 1e308;
    }
    absl::StatusOr<LinearModel> restored =
        LinearModel::FromState(config, 0, state);
    ASSERT_THAT(restored, IsOk());
    const Prediction p = PredictOf(*restored, std::vector<float>{1e10, 1e10});
    EXPECT_FALSE(std::isnan(p.value));
    for (double q : p.scores) EXPECT_FALSE(std::isnan(q));
  }
}

}  // namespace
}  // namespace streamfit
