// LinearModel's drift monitor: fed the progressive loss of every sample,
// counted in the metrics, kept in the state, and the reset policy.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "core/model/linear_model.h"
#include "core/model/model_trainer.h"

namespace streamfit {
namespace {

constexpr uint32_t kFeatures = 5;
constexpr uint64_t kChange = 20'000;

// y = w . x + noise, with w negated from sample kChange + 1 on (an abrupt
// change of the true weights), for regression; binary labels from the sign
// of the same score.
class Stream {
 public:
  explicit Stream(uint32_t seed) : rng_(seed) {
    for (float& w : w_) w = normal_(rng_);
  }
  // The next sample's features and label for `task`.
  double Next(Task task, uint64_t t, std::vector<float>& x) {
    x.resize(kFeatures);
    double score = 0;
    for (uint32_t j = 0; j < kFeatures; ++j) {
      x[j] = normal_(rng_);
      score += (t > kChange ? -w_[j] : w_[j]) * x[j];
    }
    const double noisy = score + 0.3 * normal_(rng_);
    return task == Task::kRegression ? noisy : (noisy > 0 ? 1.0 : 0.0);
  }

 private:
  std::mt19937 rng_;
  std::normal_distribution<float> normal_;
  float w_[kFeatures];
};

LinearModel Model(Task task, DriftPolicy policy,
                  Serving serving = Serving::kUnspecified) {
  ModelConfig config;
  config.task = task;
  config.num_features = kFeatures;
  config.drift_policy = policy;
  config.serving = serving;
  absl::StatusOr<LinearModel> model = LinearModel::Create(config);
  EXPECT_TRUE(model.ok()) << model.status();
  return *std::move(model);
}

TEST(LinearModelDriftTest, AnAbruptChangeIsFoundSoonAndNothingBefore) {
  for (Task task : {Task::kRegression, Task::kBinary}) {
    ModelTrainer trainer(Model(task, DriftPolicy::kAlert));
    const LinearModel& model = trainer.model();
    EXPECT_EQ(model.config().drift_detector, DriftDetectorKind::kAdwin);
    Stream stream(1);
    std::vector<float> x;
    for (uint64_t t = 1; t <= kChange; ++t) {
      const double y = stream.Next(task, t, x);
      trainer.Learn(x, y);
    }
    EXPECT_EQ(model.metrics().drifts_detected, 0u);
    for (uint64_t t = kChange + 1; t <= kChange + 5'000; ++t) {
      const double y = stream.Next(task, t, x);
      trainer.Learn(x, y);
    }
    const MetricsSummary m = model.metrics();
    EXPECT_GE(m.drifts_detected, 1u) << TaskName(task);
    EXPECT_GT(m.last_drift_version, kChange);
    // The first detection within a few hundred samples of the change.
    ModelTrainer replay_trainer(Model(task, DriftPolicy::kAlert));
    const LinearModel& replay = replay_trainer.model();
    Stream again(1);
    uint64_t first = 0;
    for (uint64_t t = 1; t <= kChange + 5'000 && first == 0; ++t) {
      const double y = again.Next(task, t, x);
      replay_trainer.Learn(x, y);
      if (replay.metrics().drifts_detected > 0) first = t;
    }
    EXPECT_GT(first, kChange);
    EXPECT_LT(first - kChange, 1'000u) << TaskName(task);
  }
}

// The sum of the normalized rule's accumulated squared gradients over the
// dense coordinates (the first of each coordinate's two optimizer values).
double AccumulatedGradients(const LinearModel& model) {
  for (const NamedTensor& t : model.ExportState()) {
    if (t.name != "dense_optimizer_state") continue;
    double sum = 0;
    for (size_t i = 0; i < t.values.size(); i += 2) sum += t.values[i];
    return sum;
  }
  return -1;
}

TEST(LinearModelDriftTest,
     ResetForgetsTheRuleStateKeepsWeightsAndAdaptsFaster) {
  // The two models agree until the first drift: the policy acts only then.
  // Both serve their rule's live weights, which the policy acts on (auto
  // would serve the least-squares fit, which restarts on its own).
  ModelTrainer alert_trainer(
      Model(Task::kRegression, DriftPolicy::kAlert, Serving::kLive));
  const LinearModel& alert = alert_trainer.model();
  ModelTrainer reset_trainer(
      Model(Task::kRegression, DriftPolicy::kReset, Serving::kLive));
  const LinearModel& reset = reset_trainer.model();
  Stream stream(2);
  std::vector<float> x;
  uint64_t t = 1;
  for (; reset.metrics().drifts_detected == 0 && t <= kChange + 5'000; ++t) {
    const double y = stream.Next(Task::kRegression, t, x);
    alert_trainer.Learn(x, y);
    reset_trainer.Learn(x, y);
  }
  ASSERT_EQ(reset.metrics().drifts_detected, 1u);
  ASSERT_EQ(alert.metrics().drifts_detected, 1u);
  // The sample that found the drift was learned from a forgotten rule
  // state, by weights that were kept.
  EXPECT_LT(AccumulatedGradients(reset), AccumulatedGradients(alert) / 100);
  EXPECT_GT(reset.RawFunction().weights.norm(),
            0.5 * alert.RawFunction().weights.norm());
  // Over the next samples, the reset model's loss is the lower.
  double alert_loss = 0, reset_loss = 0;
  for (uint64_t end = t + 2'000; t < end; ++t) {
    const double y = stream.Next(Task::kRegression, t, x);
    Prediction a, r;
    alert.Predict(x, a);
    reset.Predict(x, r);
    alert_loss += (a.value - y) * (a.value - y);
    reset_loss += (r.value - y) * (r.value - y);
    alert_trainer.Learn(x, y);
    reset_trainer.Learn(x, y);
  }
  EXPECT_LT(reset_loss, alert_loss);
}

TEST(LinearModelDriftTest, TheMonitorContinuesExactlyFromAnExportedState) {
  ModelTrainer trainer(Model(Task::kBinary, DriftPolicy::kReset));
  const LinearModel& model = trainer.model();
  Stream stream(3);
  std::vector<float> x;
  uint64_t t = 1;
  for (; t <= kChange - 1000; ++t) {
    const double y = stream.Next(Task::kBinary, t, x);
    trainer.Learn(x, y);
  }
  absl::StatusOr<LinearModel> loaded = LinearModel::FromState(
      model.config(), model.version(), model.ExportState());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ModelTrainer restored(*std::move(loaded));
  for (; t <= kChange + 5'000; ++t) {
    const double y = stream.Next(Task::kBinary, t, x);
    trainer.Learn(x, y);
    restored.Learn(x, y);
  }
  EXPECT_GE(model.metrics().drifts_detected, 1u);
  EXPECT_EQ(restored.model().metrics().drifts_detected,
            model.metrics().drifts_detected);
  EXPECT_EQ(restored.model().metrics().last_drift_version,
            model.metrics().last_drift_version);
  const auto a = model.ExportState(), b = restored.model().ExportState();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].values, b[i].values) << a[i].name;
  }
}

}  // namespace
}  // namespace streamfit
