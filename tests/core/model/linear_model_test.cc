#include "core/model/linear_model.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "core/model/feature_hash.h"
#include "core/model/model_trainer.h"
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
using ::streamfit::testing::StatusIs;
using ::streamfit::testing::Stream;
using ::testing::HasSubstr;

std::vector<double>* FindTensor(std::vector<NamedTensor>& state,
                                const std::string& name) {
  for (NamedTensor& t : state) {
    if (t.name == name) return &t.values;
  }
  return nullptr;
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

TEST(LinearModelTest, RawFunctionPredictsLikePredict) {
  const Stream s = SeparableStream(500, 4, 0, 5);
  for (Task task : {Task::kRegression, Task::kBinary}) {
    for (Serving serving : {Serving::kAuto, Serving::kAveraged}) {
      SCOPED_TRACE(TaskName(task));
      ModelConfig config = Config(task, 4);
      config.serving = serving;
      ModelTrainer trainer(MustCreate(config));
      const LinearModel& model = trainer.model();
      LearnAll(trainer, s, 0, s.size());
      const RawLinearFunction f = model.RawFunction();
      for (int i = 0; i < 20; ++i) {
        double raw = f.bias[0];
        for (int j = 0; j < 4; ++j) raw += f.weights(0, j) * s.x[i][j];
        const double got = PredictOf(model, s.x[i]).value;
        if (model.Served() == ServedWeights::kKalman) {
          // The filter's mean weights; Predict moderates their score
          // (kalman_companion_test), which keeps its sign.
          EXPECT_EQ(got >= 0.5, raw >= 0);
          continue;
        }
        // Regression estimates are clamped to the labels seen, {0, 1},
        // widened by half their range.
        const double expected = task == Task::kBinary
                                    ? 1 / (1 + std::exp(-raw))
                                    : std::clamp(raw, -0.5, 1.5);
        EXPECT_NEAR(got, expected, 1e-9);
      }
    }
  }
}

TEST(LinearModelTest, FromStateRejectsMissingTensor) {
  ModelTrainer trainer(MustCreate(Config(Task::kBinary, 2)));
  const LinearModel& model = trainer.model();
  trainer.Learn(std::vector<float>{1, 2}, 1);
  std::vector<NamedTensor> state = model.ExportState();
  for (size_t i = 0; i < state.size(); ++i) {
    std::vector<NamedTensor> partial = state;
    const std::string name = partial[i].name;
    partial.erase(partial.begin() + i);
    // States exported before drift detection have no drift_state, those
    // of models without averaging no averaging, and those from before the
    // Kalman filter no kalman: the monitor, the average or the filter then
    // starts afresh.
    if (name == "drift_state" || name == "averaging" || name == "kalman") {
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
  const LinearModel model = MustCreate(Config(Task::kBinary, 2));
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
  const LinearModel model = MustCreate(Config(Task::kBinary, 2));
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
  ModelTrainer trainer(MustCreate(Config(Task::kBinary, 2)));
  const LinearModel& model = trainer.model();
  EXPECT_THAT(LinearModel::FromState(Config(Task::kUnspecified, 2), 0,
                                     model.ExportState()),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// A published copy (as the learner hands to Predict) keeps its state while
// the trainer learns on, hashed table included (its blocks are shared
// copy-on-write), and a trainer continued from the copy matches the original.
TEST(LinearModelTest, CopiesAreIndependent) {
  ModelConfig config = Config(Task::kBinary, 3);
  config.hash_bits = 8;
  const Stream s = SeparableStream(200, 3, 0, 14);
  const std::vector<uint32_t> hashes = {3, 5}, namespaces = {0, 0};
  const std::vector<float> values = {1, 0.5f};
  auto learn = [&](ModelTrainer& trainer, size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) {
      trainer.Learn(ExampleView{s.x[i], hashes, namespaces, values}, s.y[i]);
    }
  };
  ModelTrainer trainer(MustCreate(config));
  learn(trainer, 0, 100);
  const LinearModel published = trainer.model();
  absl::StatusOr<LinearModel> at_publish = LinearModel::FromState(
      config, published.version(), published.ExportState());
  ASSERT_THAT(at_publish, IsOk());
  learn(trainer, 100, 200);
  EXPECT_EQ(published.version(), 100u);
  EXPECT_EQ(trainer.version(), 200u);
  ExpectIdenticalState(published, *at_publish);
  EXPECT_NE(published.SparseWeight(HashSlot(3, config.hash_bits)),
            trainer.model().SparseWeight(HashSlot(3, config.hash_bits)));
  ModelTrainer continued(published);
  learn(continued, 100, 200);
  ExpectIdenticalState(trainer.model(), continued.model());
}

// Scoring through one set of buffers, as a Predict request does for all its
// rows, gives each row exactly the prediction it gets alone, whatever the
// rows before it left in the buffers (wider, narrower, hashed or not).
TEST(LinearModelTest, PredictWithReusedBuffersEqualsPredictAlone) {
  ModelConfig config = Config(Task::kMulticlass, 3, 3);
  config.hash_bits = 10;
  config.interactions = {{"a", "b"}};
  const Stream s = SeparableStream(300, 3, 3, 21);
  const uint32_t a = HashNamespace("a"), b = HashNamespace("b");
  std::mt19937 rng(5);
  std::uniform_int_distribution<uint32_t> word(0, 500), width(0, 6);
  std::vector<std::vector<uint32_t>> hashes(s.size()), namespaces(s.size());
  std::vector<std::vector<float>> values(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    for (uint32_t f = 0, n = width(rng); f < n; ++f) {
      const uint32_t ns = f % 2 ? a : b;
      hashes[i].push_back(HashFeatureIndex(ns, word(rng)));
      namespaces[i].push_back(ns);
      values[i].push_back(1 + 0.25f * static_cast<float>(f));
    }
  }
  auto view = [&](size_t i) {
    return ExampleView{s.x[i], hashes[i], namespaces[i], values[i]};
  };
  ModelTrainer trainer(MustCreate(config));
  for (size_t i = 0; i < 200; ++i) trainer.Learn(view(i), s.y[i]);
  const LinearModel& model = trainer.model();
  ScoreBuffers buffers;
  Prediction reused, alone;
  for (size_t i = 200; i < s.size(); ++i) {
    model.Predict(view(i), buffers, reused);
    model.Predict(view(i), alone);
    ASSERT_EQ(reused.value, alone.value) << i;
    ASSERT_EQ(reused.scores, alone.scores) << i;
  }
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
    ModelTrainer trainer(
        MustCreate(Config(task, kFeatures, task == Task::kMulticlass ? 3 : 0)));
    const LinearModel& model = trainer.model();
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
      trainer.Learn(x, label);
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
      LinearModel::FromParameters(*full, features, labels, w, b, {});
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
  ModelTrainer trainer(MustCreate(config));
  const LinearModel& model = trainer.model();
  const std::vector<float> dense = {1, 2};
  const std::vector<uint32_t> hashes = {7, 11}, namespaces = {0, 0};
  const std::vector<float> values = {1, -1};
  for (int i = 0; i < 50; ++i) {
    trainer.Learn(ExampleView{dense, hashes, namespaces, values}, i % 7);
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
