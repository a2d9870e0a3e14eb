// The rls rule: after every sample the model is the exact weighted ridge
// least-squares fit of the samples so far (with forgetting, of the
// exponentially weighted ones), computed here independently by solving the
// normal equations; its state continues bit-identically from a snapshot; and
// the config and inputs it cannot fit are refused.
#include "core/model/rules/rls.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "core/batch_trainer.h"
#include "core/model/example_batch.h"
#include "core/model/linear_model.h"
#include "core/model/model_config.h"
#include "core/model/model_trainer.h"
#include "tests/testing/model_state.h"
#include "tests/testing/model_streams.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/weighted_samples.h"

namespace streamfit {
namespace {

using ::streamfit::testing::Config;
using ::streamfit::testing::ExpectIdenticalState;
using ::streamfit::testing::IsOk;
using ::streamfit::testing::LinearSamples;
using ::streamfit::testing::MustCreate;
using ::streamfit::testing::RidgeFit;
using ::streamfit::testing::StatusIs;
using ::testing::HasSubstr;
using Sample = ::streamfit::testing::WeightedSample;

ModelConfig RlsConfig(uint32_t d, double ridge, double forgetting = 1) {
  ModelConfig config = Config(Task::kRegression, d);
  config.optimizer = Optimizer::kRls;
  config.rls_ridge = ridge;
  config.rls_forgetting = forgetting;
  return config;
}

// The refactorization points of rules/rls.h: updates 1, 2, 4, ... and every
// multiple of kRefactorInterval.
bool RefactorsAt(uint64_t t) {
  return (t & (t - 1)) == 0 || t % RlsState::kRefactorInterval == 0;
}

// Learns `samples` one by one and after each compares the model's weights
// and bias with the minimizer of sum_i lambda^(t-i) h_i (y_i - w.x~_i)^2 +
// r_t |w|^2, solved from the normal equations, to 1e-9 relative.
void ExpectLeastSquaresAfterEverySample(const std::vector<Sample>& samples,
                                        uint32_t d, double ridge,
                                        double lambda) {
  ModelTrainer trainer(MustCreate(RlsConfig(d, ridge, lambda)));
  const int n = d + 1;
  Eigen::MatrixXd gram = Eigen::MatrixXd::Zero(n, n);
  Eigen::VectorXd moment = Eigen::VectorXd::Zero(n);
  double prior = ridge;
  for (size_t t = 1; t <= samples.size(); ++t) {
    const Sample& s = samples[t - 1];
    trainer.Learn(s.x, s.y, s.h);
    Eigen::VectorXd x(n);
    for (uint32_t j = 0; j < d; ++j) x[j] = s.x[j];
    x[d] = 1;
    gram = lambda * gram + s.h * x * x.transpose();
    moment = lambda * moment + s.h * s.y * x;
    prior *= lambda;
    if (RefactorsAt(t)) prior = std::max(prior, ridge);
    const Eigen::VectorXd want =
        (gram + prior * Eigen::MatrixXd::Identity(n, n)).ldlt().solve(moment);
    const RawLinearFunction got = trainer.model().RawFunction();
    for (uint32_t j = 0; j <= d; ++j) {
      const double g = j < d ? got.weights(0, j) : got.bias[0];
      ASSERT_NEAR(g, want[j], 1e-9 * std::max(1.0, std::abs(want[j])))
          << "coordinate " << j << " after sample " << t;
    }
  }
  EXPECT_EQ(trainer.model().metrics().skipped_updates, 0u);
}

TEST(RlsTest, IsTheRidgeLeastSquaresFitAfterEverySample) {
  ExpectLeastSquaresAfterEverySample(LinearSamples(2100, 4, 1), 4, 1e-3, 1);
}

TEST(RlsTest, WithForgettingIsTheExponentiallyWeightedFit) {
  // Long enough to pass two refactorizations at multiples of 1024, where the
  // decayed prior is topped up.
  ExpectLeastSquaresAfterEverySample(LinearSamples(2100, 3, 2), 3, 1e-2, 0.995);
}

TEST(RlsTest, FitsUnscaledFeaturesToTheNoiseFloor) {
  // Features of scale 1e4 and 1e-3 at once: no standardization is needed.
  std::mt19937 rng(3);
  std::normal_distribution<double> normal(0, 1);
  ModelTrainer trainer(MustCreate(RlsConfig(2, 1e-6)));
  for (int i = 0; i < 5000; ++i) {
    const float x0 = static_cast<float>(1e4 * normal(rng) + 5e4);
    const float x1 = static_cast<float>(1e-3 * normal(rng));
    trainer.Learn(std::vector<float>{x0, x1},
                  2e-4 * x0 + 3e3 * x1 - 7 + 0.01 * normal(rng));
  }
  const RawLinearFunction f = trainer.model().RawFunction();
  EXPECT_NEAR(f.weights(0, 0), 2e-4, 1e-6);
  EXPECT_NEAR(f.weights(0, 1), 3e3, 5);
  EXPECT_NEAR(f.bias[0], -7, 0.05);
  // The recent progressive MSE is the noise variance (1e-4).
  EXPECT_LT(trainer.model().metrics().recent_loss, 2e-4);
}

TEST(RlsTest, SnapshotContinuesBitIdentically) {
  const std::vector<Sample> samples = LinearSamples(1500, 5, 4);
  ModelTrainer whole(MustCreate(RlsConfig(5, 1e-4, 0.999)));
  ModelTrainer first(MustCreate(RlsConfig(5, 1e-4, 0.999)));
  for (size_t i = 0; i < 700; ++i) {
    whole.Learn(samples[i].x, samples[i].y, samples[i].h);
    first.Learn(samples[i].x, samples[i].y, samples[i].h);
  }
  absl::StatusOr<LinearModel> restored = LinearModel::FromState(
      first.config(), first.version(), first.model().ExportState());
  ASSERT_THAT(restored, IsOk());
  ModelTrainer second(*std::move(restored));
  for (size_t i = 700; i < samples.size(); ++i) {
    whole.Learn(samples[i].x, samples[i].y, samples[i].h);
    second.Learn(samples[i].x, samples[i].y, samples[i].h);
  }
  ExpectIdenticalState(whole.model(), second.model());
}

TEST(RlsTest, ARetrainedModelLearnsOnAsIfItHadLearnedTheDataset) {
  // A batch fit of the first 1000 samples, then 300 more learned online: the
  // model is the least-squares fit of all 1300.
  const uint32_t d = 3;
  const std::vector<Sample> samples = LinearSamples(1300, d, 6);
  ModelConfig config = RlsConfig(d, 1e-6);
  config.l2 = 0;
  absl::StatusOr<ModelTrainer> trainer =
      ::streamfit::testing::FittedThenLearned(config, samples, 1000);
  ASSERT_THAT(trainer, IsOk());
  const Eigen::VectorXd want =
      RidgeFit(samples, samples.size(), d, 1e-6, Eigen::VectorXd::Zero(d + 1));
  const RawLinearFunction got = trainer->model().RawFunction();
  for (uint32_t j = 0; j < d; ++j) {
    EXPECT_NEAR(got.weights(0, j), want[j], 1e-7 * std::abs(want[j])) << j;
  }
  EXPECT_NEAR(got.bias[0], want[d], 1e-7 * std::abs(want[d]));
}

TEST(RlsTest, FromStateRefusesABrokenMatrix) {
  ModelTrainer trainer(MustCreate(RlsConfig(2, 1e-3)));
  trainer.Learn(std::vector<float>{1, 2}, 3);
  for (const char* name : {"rls_gram", "rls_inverse_gram", "rls_prior"}) {
    std::vector<NamedTensor> state = trainer.model().ExportState();
    for (NamedTensor& t : state) {
      if (t.name == name) t.values[0] = -1;
    }
    EXPECT_THAT(
        LinearModel::FromState(trainer.config(), trainer.version(), state),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(name)))
        << name;
  }
}

TEST(RlsTest, DriftResetForgetsTheGramKeepingTheWeights) {
  ModelConfig config = RlsConfig(1, 1e-3);
  config.drift_policy = DriftPolicy::kReset;
  ModelTrainer trainer(MustCreate(config));
  // y = 2x for 3000 samples, then y = -2x: a full-memory least-squares fit
  // would need another 3000 samples to cross zero; the reset after the
  // detected rise lets it follow within a few hundred.
  std::mt19937 rng(5);
  std::normal_distribution<double> normal(0, 1);
  for (int i = 0; i < 3600; ++i) {
    const float x = static_cast<float>(normal(rng));
    trainer.Learn(std::vector<float>{x},
                  (i < 3000 ? 2 : -2) * x + 0.1 * normal(rng));
  }
  EXPECT_GE(trainer.model().metrics().drifts_detected, 1u);
  EXPECT_NEAR(trainer.model().RawFunction().weights(0, 0), -2, 0.1);
}

TEST(RlsTest, ConfigIsCheckedAndStandardizationTurnedOff) {
  absl::StatusOr<ModelConfig> full = WithDefaults(RlsConfig(10, 1e-6));
  ASSERT_THAT(full, IsOk());
  EXPECT_FALSE(full->standardize);
  EXPECT_EQ(*full->rls_forgetting, 1);
  ModelConfig config = RlsConfig(10, 1e-6);
  config.rls_ridge.reset();
  ASSERT_THAT(WithDefaults(config), IsOk());
  EXPECT_EQ(*WithDefaults(config)->rls_ridge, 1e-6);

  const auto refused = [](ModelConfig c, const char* message) {
    EXPECT_THAT(WithDefaults(c), StatusIs(absl::StatusCode::kInvalidArgument,
                                          HasSubstr(message)));
  };
  ModelConfig binary = RlsConfig(3, 1e-6);
  binary.task = Task::kBinary;
  refused(binary, "regression with squared loss");
  ModelConfig huber = RlsConfig(3, 1e-6);
  huber.loss = LossKind::kHuber;
  refused(huber, "regression with squared loss");
  refused(RlsConfig(RlsState::kMaxFeatures + 1, 1e-6), "1 to 256 dense");
  refused(RlsConfig(3, 0), "rls_ridge must be in [1e-12, 1e+12]");
  refused(RlsConfig(3, 1e13), "rls_ridge must be in [1e-12, 1e+12]");
  refused(RlsConfig(3, 1e-6, 0.9), "rls_forgetting must be in [0.99, 1]");
  refused(RlsConfig(3, 1e-6, 1.01), "rls_forgetting must be in [0.99, 1]");
  ModelConfig pairs = RlsConfig(3, 1e-6);
  pairs.interactions = {{"a", "b"}};
  refused(pairs, "dense features only");
  ModelConfig other = Config(Task::kRegression, 3);
  other.rls_ridge = 1;
  refused(other, "for optimizer rls only");
}

TEST(RlsTest, StateBytesCountTheTwoMatrices) {
  ModelConfig normalized = Config(Task::kRegression, 10);
  normalized.hash_bits = 4;
  normalized.serving = Serving::kLive;  // rls does not average
  ModelConfig rls = RlsConfig(10, 1e-6);
  rls.hash_bits = 4;
  EXPECT_EQ(ModelStateBytes(*WithDefaults(rls)) -
                ModelStateBytes(*WithDefaults(normalized)),
            8u * 2 * 11 * 11);
}

TEST(RlsTest, SparseFeaturesAreRefused) {
  const ModelConfig config = *WithDefaults(RlsConfig(2, 1e-6));
  const std::vector<float> dense = {1, 2};
  const std::vector<uint32_t> hashes = {7}, namespaces = {0};
  const std::vector<float> values = {1};
  ExampleBatch batch;
  batch.num_features = 2;
  batch.Add(ExampleView{dense, hashes, namespaces, values}, 1);
  EXPECT_THAT(ValidateBatch(batch, config),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("example 0: the model's optimizer rls takes "
                                 "dense features only")));
  EXPECT_THAT(ValidateFeatures(ExampleView{dense, hashes, namespaces, values},
                               config, 0),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("dense")));
}

TEST(RlsTest, ExtremeInputsNeverMakeTheModelNonFinite) {
  ModelTrainer trainer(MustCreate(RlsConfig(2, 1e-6)));
  const float big = static_cast<float>(kMaxAbsValue);
  const std::vector<std::vector<float>> rows = {
      {big, -big}, {big, big}, {1e-30f, 0}, {-big, 1}, {0, 0}};
  for (int round = 0; round < 50; ++round) {
    for (const auto& x : rows) {
      trainer.Learn(x, round % 2 == 0 ? kMaxAbsValue : -kMaxAbsValue, 1e18);
    }
  }
  for (const NamedTensor& t : trainer.model().ExportState()) {
    for (double v : t.values) ASSERT_TRUE(std::isfinite(v)) << t.name;
  }
  Prediction p;
  trainer.model().Predict(rows[0], p);
  EXPECT_TRUE(std::isfinite(p.value));
}

}  // namespace
}  // namespace streamfit
