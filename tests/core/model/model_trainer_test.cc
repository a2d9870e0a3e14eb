#include "core/model/model_trainer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/model/linear_model.h"
#include "tests/testing/model_state.h"
#include "tests/testing/model_streams.h"
#include "tests/testing/status_matchers.h"

namespace streamfit {
namespace {

using ::streamfit::testing::Config;
using ::streamfit::testing::ExpectIdenticalState;
using ::streamfit::testing::IsOk;
using ::streamfit::testing::LearnAll;
using ::streamfit::testing::MustCreate;
using ::streamfit::testing::PredictOf;
using ::streamfit::testing::SeparableStream;
using ::streamfit::testing::Stream;

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

TEST(ModelTrainerTest, ConstantScheduleStepsMatchHandComputation) {
  ModelTrainer trainer(MustCreate(HandConfig(Schedule::kConstant, 0)));
  const LinearModel& model = trainer.model();
  // Step 1 at w = b = 0: x = 2, y = 3, s = 0, g = s - y = -3.
  trainer.Learn(std::vector<float>{2}, 3);
  RawLinearFunction f = model.RawFunction();
  EXPECT_DOUBLE_EQ(f.weights(0, 0), 0.1 * 3 * 2);  // 0.6
  EXPECT_DOUBLE_EQ(f.bias[0], 0.1 * 3);            // 0.3
  // Step 2: x = 1, y = -1, s = 0.9, g = 1.9.
  trainer.Learn(std::vector<float>{1}, -1);
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

TEST(ModelTrainerTest, InvScalingScheduleStepsMatchHandComputation) {
  ModelTrainer trainer(MustCreate(HandConfig(Schedule::kInvScaling, 0)));
  const LinearModel& model = trainer.model();
  // t = 1: eta = 0.1 / 1^0.5 = 0.1, as above.
  trainer.Learn(std::vector<float>{2}, 3);
  RawLinearFunction f = model.RawFunction();
  EXPECT_DOUBLE_EQ(f.weights(0, 0), 0.6);
  EXPECT_DOUBLE_EQ(f.bias[0], 0.3);
  // t = 2: eta = 0.1 / sqrt(2).
  const double eta2 = 0.1 / std::sqrt(2.0);
  trainer.Learn(std::vector<float>{1}, -1);
  f = model.RawFunction();
  EXPECT_DOUBLE_EQ(f.weights(0, 0), 0.6 - eta2 * 1.9);
  EXPECT_DOUBLE_EQ(f.bias[0], 0.3 - eta2 * 1.9);
  // t = 3: eta = 0.1 / sqrt(3); x = -2, y = 0.
  const double w2 = 0.6 - eta2 * 1.9, b2 = 0.3 - eta2 * 1.9;
  const double g3 = w2 * -2 + b2;
  const double eta3 = 0.1 / std::sqrt(3.0);
  trainer.Learn(std::vector<float>{-2}, 0);
  f = model.RawFunction();
  EXPECT_DOUBLE_EQ(f.weights(0, 0), w2 - eta3 * g3 * -2);
  EXPECT_DOUBLE_EQ(f.bias[0], b2 - eta3 * g3);
}

TEST(ModelTrainerTest, L2DecaysWeightsButNotBias) {
  ModelTrainer trainer(MustCreate(HandConfig(Schedule::kConstant, 0.5)));
  const LinearModel& model = trainer.model();
  trainer.Learn(std::vector<float>{2}, 3);  // w = 0: decay has no effect
  trainer.Learn(std::vector<float>{1}, -1);
  // W -= eta (g x + l2 W) with g from the old weights: s = 0.9, g = 1.9.
  const RawLinearFunction f = model.RawFunction();
  EXPECT_DOUBLE_EQ(f.weights(0, 0), 0.6 - 0.1 * (1.9 + 0.5 * 0.6));
  EXPECT_DOUBLE_EQ(f.bias[0], 0.3 - 0.1 * 1.9);
}

TEST(ModelTrainerTest, BinaryStepMatchesHandComputation) {
  ModelConfig config = HandConfig(Schedule::kConstant, 0);
  config.task = Task::kBinary;
  ModelTrainer trainer(MustCreate(config));
  const LinearModel& model = trainer.model();
  // s = 0, p = 0.5, g = p - y = -0.5.
  trainer.Learn(std::vector<float>{2}, 1);
  const RawLinearFunction f = model.RawFunction();
  EXPECT_DOUBLE_EQ(f.weights(0, 0), 0.1 * 0.5 * 2);
  EXPECT_DOUBLE_EQ(f.bias[0], 0.1 * 0.5);
  EXPECT_DOUBLE_EQ(PredictOf(model, std::vector<float>{1}).value,
                   1 / (1 + std::exp(-0.15)));
}

TEST(ModelTrainerTest, StepIsCappedToFitTheExampleExactly) {
  ModelConfig config = HandConfig(Schedule::kConstant, 0);
  config.learning_rate = 10;
  ModelTrainer trainer(MustCreate(config));
  const LinearModel& model = trainer.model();
  // step = min(10, 1 / (|z|^2 + 1)) = 1 / 5: w = 0.2 * 3 * 2, b = 0.2 * 3,
  // which predicts y = 3 at x = 2 exactly.
  trainer.Learn(std::vector<float>{2}, 3);
  const RawLinearFunction f = model.RawFunction();
  EXPECT_DOUBLE_EQ(f.weights(0, 0), 1.2);
  EXPECT_DOUBLE_EQ(f.bias[0], 0.6);
  EXPECT_DOUBLE_EQ(PredictOf(model, std::vector<float>{2}).value, 3);
}

TEST(ModelTrainerTest, HugeImportanceWeightKeepsModelFinite) {
  for (Task task : {Task::kRegression, Task::kBinary, Task::kMulticlass}) {
    SCOPED_TRACE(TaskName(task));
    ModelTrainer trainer(
        MustCreate(Config(task, 2, task == Task::kMulticlass ? 3 : 0)));
    const LinearModel& model = trainer.model();
    std::mt19937 rng(12);
    std::normal_distribution<float> normal(0, 1);
    for (int i = 0; i < 50; ++i) {
      const std::vector<float> x = {normal(rng), normal(rng)};
      trainer.Learn(x, i % 2, i == 20 ? 1e30 : 1);
    }
    for (const NamedTensor& t : model.ExportState()) {
      for (double v : t.values) ASSERT_TRUE(std::isfinite(v)) << t.name;
    }
    EXPECT_FALSE(std::isnan(PredictOf(model, std::vector<float>{1, 1}).value));
  }
}

TEST(ModelTrainerTest, ZeroWeightExampleDoesNotChangeParameters) {
  ModelTrainer trainer(MustCreate(HandConfig(Schedule::kConstant, 0)));
  const LinearModel& model = trainer.model();
  trainer.Learn(std::vector<float>{2}, 3);
  trainer.Learn(std::vector<float>{5}, 100, 0);
  const RawLinearFunction f = model.RawFunction();
  EXPECT_DOUBLE_EQ(f.weights(0, 0), 0.6);
  EXPECT_DOUBLE_EQ(f.bias[0], 0.3);
  EXPECT_EQ(model.version(), 2u);
}

TEST(ModelTrainerTest, RegressionPredictsRunningMeanUntilLabelsDiffer) {
  ModelTrainer trainer(MustCreate(Config(Task::kRegression, 2)));
  const LinearModel& model = trainer.model();
  trainer.Learn(std::vector<float>{1, 2}, 5);
  EXPECT_EQ(PredictOf(model, std::vector<float>{7, -3}).value, 5);
  trainer.Learn(std::vector<float>{3, 1}, 5);
  EXPECT_EQ(PredictOf(model, std::vector<float>{0, 0}).value, 5);
}

TEST(ModelTrainerTest, RegressionConvergesToTrueWeights) {
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
    ModelTrainer trainer(MustCreate(config));
    const LinearModel& model = trainer.model();
    LearnAll(trainer, s, 0, s.size());
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

TEST(ModelTrainerTest, BinaryReachesHighAccuracyOnSeparableData) {
  const Stream train = SeparableStream(5000, 5, 0, 1);
  const Stream test = SeparableStream(1000, 5, 0, 2);
  ModelTrainer trainer(MustCreate(Config(Task::kBinary, 5)));
  const LinearModel& model = trainer.model();
  LearnAll(trainer, train, 0, train.size());
  EXPECT_GT(Accuracy(model, test), 0.97);
  EXPECT_GT(model.metrics().recent_accuracy, 0.95);
  EXPECT_GT(model.metrics().progressive_accuracy, 0.9);
  const Prediction p = PredictOf(model, test.x[0]);
  EXPECT_GE(p.value, 0);
  EXPECT_LE(p.value, 1);
  EXPECT_TRUE(p.scores.empty());
}

TEST(ModelTrainerTest, MulticlassReachesHighAccuracyOnSeparableData) {
  const Stream train = SeparableStream(5000, 6, 3, 3);
  const Stream test = SeparableStream(1000, 6, 3, 4);
  ModelTrainer trainer(MustCreate(Config(Task::kMulticlass, 6, 3)));
  const LinearModel& model = trainer.model();
  LearnAll(trainer, train, 0, train.size());
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

TEST(ModelTrainerTest, FromStateContinuesBitIdentically) {
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
    ModelTrainer original_trainer(MustCreate(c.config));
    const LinearModel& original = original_trainer.model();
    LearnAll(original_trainer, c.stream, 0, 500);
    absl::StatusOr<LinearModel> loaded = LinearModel::FromState(
        c.config, original.version(), original.ExportState());
    ASSERT_THAT(loaded, IsOk());
    ExpectIdenticalState(original, *loaded);
    ModelTrainer restored(*std::move(loaded));
    LearnAll(original_trainer, c.stream, 500, c.stream.size());
    LearnAll(restored, c.stream, 500, c.stream.size());
    ExpectIdenticalState(original, restored.model());
    EXPECT_EQ(PredictOf(original, c.stream.x[3]).value,
              PredictOf(restored.model(), c.stream.x[3]).value);
  }
}

TEST(ModelTrainerTest, SameStreamGivesBitIdenticalState) {
  const Stream s = SeparableStream(2000, 8, 5, 13);
  ModelTrainer a_trainer(MustCreate(Config(Task::kMulticlass, 8, 5)));
  const LinearModel& a = a_trainer.model();
  ModelTrainer b_trainer(MustCreate(Config(Task::kMulticlass, 8, 5)));
  const LinearModel& b = b_trainer.model();
  LearnAll(a_trainer, s, 0, s.size());
  LearnAll(b_trainer, s, 0, s.size());
  ExpectIdenticalState(a, b);
  // A different order gives a different model (the check can fail).
  ModelTrainer c_trainer(MustCreate(Config(Task::kMulticlass, 8, 5)));
  const LinearModel& c = c_trainer.model();
  for (size_t i = s.size(); i-- > 0;) c_trainer.Learn(s.x[i], s.y[i]);
  EXPECT_NE(a.ExportState()[0].values, c.ExportState()[0].values);
}

TEST(ModelTrainerTest, ImportanceWeightTwoIsLikeSeeingTheExampleTwice) {
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
    ModelTrainer weighted_trainer(MustCreate(config));
    const LinearModel& weighted = weighted_trainer.model();
    ModelTrainer repeated_trainer(MustCreate(config));
    const LinearModel& repeated = repeated_trainer.model();
    ModelTrainer once_trainer(MustCreate(config));
    const LinearModel& once = once_trainer.model();
    for (size_t i = 0; i < s.size(); ++i) {
      weighted_trainer.Learn(s.x[i], s.y[i], 2);
      repeated_trainer.Learn(s.x[i], s.y[i]);
      repeated_trainer.Learn(s.x[i], s.y[i]);
      once_trainer.Learn(s.x[i], s.y[i]);
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

TEST(ModelTrainerTest, LabelsAtTheInputLimitKeepEveryStatisticFinite) {
  // Labels of +-1e18 (the validation limit) and features of up to 1e18: the
  // label variance sum stays far from overflowing, every prediction is
  // finite and the state decodes again.
  for (LossKind loss : {LossKind::kSquared, LossKind::kHuber}) {
    ModelConfig config = Config(Task::kRegression, 2);
    config.loss = loss;
    ModelTrainer trainer(MustCreate(config));
    const LinearModel& model = trainer.model();
    for (int i = 0; i < 2000; ++i) {
      const std::vector<float> x = {i % 2 ? 1e18f : -1e18f,
                                    static_cast<float>(i)};
      trainer.Learn(x, i % 3 ? kMaxAbsValue : -kMaxAbsValue);
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

}  // namespace
}  // namespace streamfit
