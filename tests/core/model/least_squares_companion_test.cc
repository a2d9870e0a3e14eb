// The least-squares fit kept beside the rule (serving auto, narrow dense
// regression): after each refresh its weights are the ridge fit of the raw
// samples so far, and between refreshes they stay; auto serves it where its
// recent loss is the lowest, and Predict then serves exactly it; it restarts
// after a change, retires at the first hashed feature, continues
// bit-identically from a snapshot and starts a retrained model from the
// dataset.
#include "core/model/least_squares_companion.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
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
using ::streamfit::testing::MustCreate;
using ::streamfit::testing::RidgeFit;
using ::streamfit::testing::StatusIs;
using ::testing::HasSubstr;

using Sample = ::streamfit::testing::WeightedSample;

constexpr double kNan = std::numeric_limits<double>::quiet_NaN();

// Features of scales 1e-2 to 1e2, so the fit's prior matters (RidgeFit).
std::vector<Sample> LinearStream(int n, uint32_t d, uint32_t seed,
                                 int flip = -1) {
  return ::streamfit::testing::LinearSamples(n, d, seed, true, flip);
}

ModelConfig AutoConfig(uint32_t d) { return Config(Task::kRegression, d); }

TEST(LeastSquaresCompanionTest, IsTheRidgeFitAfterEachRefresh) {
  const uint32_t d = 5, n = d + 1;
  ModelTrainer model(MustCreate(AutoConfig(d)));
  ASSERT_TRUE(model.model().least_squares().active());
  const std::vector<Sample> samples = LinearStream(3000, d, 3);
  int refreshes = 0;
  for (size_t i = 0; i < samples.size(); ++i) {
    const std::vector<double> before = model.model().least_squares().weights();
    model.Learn(samples[i].x, samples[i].y, samples[i].h);
    const std::vector<double>& got = model.model().least_squares().weights();
    const uint64_t t = i + 1;
    // After each of the first 4 n samples, then after every (4 n)-th.
    const bool refresh = t <= 4 * n || t % (4 * n) == 0;
    ASSERT_EQ(LeastSquaresCompanion::RefreshesAfter(t, d), refresh) << t;
    if (!refresh) {
      ASSERT_EQ(got, before) << "after sample " << t;
      continue;
    }
    ++refreshes;
    const Eigen::VectorXd want = RidgeFit(
        samples, t, d, LeastSquaresCompanion::kRidge, Eigen::VectorXd::Zero(n));
    // Until the samples determine a fit, the tiny prior does, which two
    // factorizations weigh with different rounding.
    const double tolerance = t > n ? 1e-9 : 1e-6;
    for (uint32_t j = 0; j < n; ++j) {
      ASSERT_NEAR(got[j], want[j], tolerance * std::max(1.0, std::abs(want[j])))
          << "after sample " << t << ", coordinate " << j;
    }
  }
  EXPECT_EQ(refreshes, 24 + (3000 - 24) / 24);
  EXPECT_EQ(model.model().least_squares().updates(), 3000);
}

TEST(LeastSquaresCompanionTest, AutoServesItWhereItPredictsBestAndExactly) {
  const uint32_t d = 5;
  ModelTrainer model(MustCreate(AutoConfig(d)));
  ModelConfig averaged_config = AutoConfig(d);
  averaged_config.serving = Serving::kAveraged;
  ModelTrainer averaged(MustCreate(averaged_config));
  const std::vector<Sample> samples = LinearStream(20'000, d, 4);
  int served = 0;
  double lowest_label = samples[0].y, highest_label = samples[0].y;
  for (size_t i = 0; i < samples.size(); ++i) {
    const LinearModel& m = model.model();
    const ServedWeights choice = m.Served();
    if (i <= d) {
      // Fewer samples than coordinates do not determine a fit.
      EXPECT_NE(choice, ServedWeights::kLeastSquares) << i;
    }
    const bool lowest = m.RecentLeastSquaresLoss() <
                        std::min(m.RecentLiveLoss(), m.RecentAveragedLoss());
    if (i > d) {
      EXPECT_EQ(choice == ServedWeights::kLeastSquares, lowest) << i;
    }
    if (choice == ServedWeights::kLeastSquares) {
      ++served;
      // The fit's estimate, within half the labels' range of them.
      const std::vector<double>& w = m.least_squares().weights();
      double want = w[d];
      for (uint32_t j = 0; j < d; ++j) want += w[j] * samples[i].x[j];
      const double margin = 0.5 * (highest_label - lowest_label);
      want = std::clamp(want, lowest_label - margin, highest_label + margin);
      Prediction got;
      m.Predict(samples[i].x, got);
      ASSERT_NEAR(got.value, want, 1e-12 * std::max(1.0, std::abs(want))) << i;
      const RawLinearFunction f = m.RawFunction();
      ASSERT_EQ(f.bias[0], w[d]);
    }
    model.Learn(samples[i].x, samples[i].y, samples[i].h);
    averaged.Learn(samples[i].x, samples[i].y, samples[i].h);
    lowest_label = std::min(lowest_label, samples[i].y);
    highest_label = std::max(highest_label, samples[i].y);
  }
  EXPECT_GT(served, 19'000);
  const double with = model.model().metrics().progressive_mse,
               without = averaged.model().metrics().progressive_mse;
  std::printf("progressive MSE: auto %.5g, averaged alone %.5g\n", with,
              without);
  EXPECT_LT(with, 0.75 * without);
}

TEST(LeastSquaresCompanionTest, RestartsAfterAChangeAndServesAgain) {
  const uint32_t d = 3;
  ModelTrainer model(MustCreate(AutoConfig(d)));
  ModelConfig live_config = AutoConfig(d);
  live_config.serving = Serving::kLive;
  ModelTrainer live(MustCreate(live_config));
  const std::vector<Sample> samples = LinearStream(16'000, d, 5, 8'000);
  double before[2] = {}, restarted_at = -1;
  for (size_t i = 0; i < samples.size(); ++i) {
    const double updates = model.model().least_squares().updates();
    model.Learn(samples[i].x, samples[i].y, samples[i].h);
    live.Learn(samples[i].x, samples[i].y, samples[i].h);
    if (restarted_at < 0 && model.model().least_squares().updates() < updates) {
      restarted_at = static_cast<double>(i);
    }
    if (i + 1 == 8'000) {
      before[0] = live.model().metrics().progressive_mse;
      before[1] = model.model().metrics().progressive_mse;
      EXPECT_EQ(model.model().Served(), ServedWeights::kLeastSquares);
    }
  }
  // The fit of both regimes lags until its recent loss has risen past 1.25
  // times the live weights'.
  EXPECT_GT(restarted_at, 8'000);
  EXPECT_LT(restarted_at, 8'300);
  EXPECT_EQ(model.model().Served(), ServedWeights::kLeastSquares);
  const auto after = [](const ModelTrainer& t, double before_mse) {
    return (t.model().metrics().progressive_mse * 16'000 - before_mse * 8'000) /
           8'000;
  };
  std::printf(
      "progressive MSE before/after the change: live %.5g %.5g, auto %.5g "
      "%.5g\n",
      before[0], after(live, before[0]), before[1], after(model, before[1]));
  EXPECT_LT(before[1], before[0]);
  EXPECT_LT(after(model, before[1]), after(live, before[0]));
}

// The fit restarts on its own, before a detector finds the change; the drift
// policy reset (which forgets the update rule's state) leaves it alone.
TEST(LeastSquaresCompanionTest, RestartsBeforeADriftIsFound) {
  ModelConfig config = AutoConfig(3);
  config.drift_policy = DriftPolicy::kReset;
  ModelTrainer model(MustCreate(config));
  // Zero-mean features and labels (the learning curve's first losses stay
  // small beside the change's), the true weights negated at sample 8,000.
  std::mt19937 rng(6);
  std::normal_distribution<float> normal;
  std::vector<float> x(3);
  for (int i = 0; i < 12'000; ++i) {
    double y = 0.3 * normal(rng);
    for (int j = 0; j < 3; ++j) {
      x[j] = normal(rng);
      y += (i < 8'000 ? 1 : -1) * (j + 1) * x[j];
    }
    model.Learn(x, y);
  }
  const MetricsSummary m = model.model().metrics();
  ASSERT_GE(m.drifts_detected, 1u);
  EXPECT_GT(m.last_drift_version, 8'000u);
  const double updates = model.model().least_squares().updates();
  EXPECT_LT(updates, static_cast<double>(model.version() - 8'000));
  EXPECT_GT(updates,
            static_cast<double>(model.version() - m.last_drift_version));
}

TEST(LeastSquaresCompanionTest, AHashedFeatureRetiresItForGood) {
  const uint32_t d = 2;
  ModelTrainer model(MustCreate(AutoConfig(d)));
  const std::vector<Sample> samples = LinearStream(300, d, 7);
  for (size_t i = 0; i < 100; ++i) {
    model.Learn(samples[i].x, samples[i].y, samples[i].h);
  }
  const std::vector<uint32_t> hashes = {42}, namespaces = {0};
  const std::vector<float> values = {1};
  model.Learn(ExampleView{samples[100].x, hashes, namespaces, values},
              samples[100].y);
  EXPECT_FALSE(model.model().least_squares().active());
  EXPECT_NE(model.model().Served(), ServedWeights::kLeastSquares);
  for (size_t i = 101; i < samples.size(); ++i) {
    model.Learn(samples[i].x, samples[i].y, samples[i].h);
  }
  EXPECT_FALSE(model.model().least_squares().active());
  // A restored model stays without it.
  absl::StatusOr<LinearModel> restored = LinearModel::FromState(
      model.config(), model.version(), model.model().ExportState());
  ASSERT_THAT(restored, IsOk());
  EXPECT_FALSE(restored->least_squares().active());
  ExpectIdenticalState(*restored, model.model());
}

TEST(LeastSquaresCompanionTest, RestoredStateContinuesBitIdentically) {
  const uint32_t d = 4;
  const std::vector<Sample> samples = LinearStream(6'000, d, 8, 3'000);
  ModelTrainer whole(MustCreate(AutoConfig(d)));
  ModelTrainer first(MustCreate(AutoConfig(d)));
  for (size_t i = 0; i < 1'500; ++i) {
    whole.Learn(samples[i].x, samples[i].y, samples[i].h);
    first.Learn(samples[i].x, samples[i].y, samples[i].h);
  }
  absl::StatusOr<LinearModel> restored = LinearModel::FromState(
      first.config(), first.version(), first.model().ExportState());
  ASSERT_THAT(restored, IsOk());
  ModelTrainer second(*std::move(restored));
  // On through the change and the fit's restart.
  for (size_t i = 1'500; i < samples.size(); ++i) {
    Prediction a, b;
    whole.model().Predict(samples[i].x, a);
    second.model().Predict(samples[i].x, b);
    ASSERT_EQ(a.value, b.value) << i;
    whole.Learn(samples[i].x, samples[i].y, samples[i].h);
    second.Learn(samples[i].x, samples[i].y, samples[i].h);
  }
  ExpectIdenticalState(whole.model(), second.model());
  EXPECT_TRUE(second.model().least_squares().active());
}

TEST(LeastSquaresCompanionTest, FromStateRefusesBrokenValues) {
  const uint32_t d = 2;
  ModelTrainer model(MustCreate(AutoConfig(d)));
  for (const Sample& s : LinearStream(50, d, 9)) model.Learn(s.x, s.y, s.h);
  const struct {
    const char* name;
    size_t index;
    double value;
  } cases[] = {{"least_squares", 0, 0.5},
               {"least_squares", 1, -1},
               {"least_squares_gram", 0, -1},
               {"least_squares_gram", 4, 0},
               {"least_squares_moment", 1, kNan}};
  for (const auto& c : cases) {
    std::vector<NamedTensor> state = model.model().ExportState();
    for (NamedTensor& t : state) {
      if (t.name == c.name) t.values[c.index] = c.value;
    }
    EXPECT_THAT(LinearModel::FromState(model.config(), model.version(), state),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.name)))
        << c.name;
  }
  // A snapshot of the exact fit kept before (the rls rule's tensors, its
  // inverse and prior among them) restores from the tensors kept now.
  std::vector<NamedTensor> exact = model.model().ExportState();
  exact.push_back({"least_squares_inverse_gram",
                   {d + 1, d + 1},
                   std::vector<double>((d + 1) * (d + 1), 1.0)});
  exact.push_back(
      {"least_squares_prior", {1}, {LeastSquaresCompanion::kRidge}});
  absl::StatusOr<LinearModel> from_exact =
      LinearModel::FromState(model.config(), model.version(), exact);
  ASSERT_THAT(from_exact, IsOk());
  ExpectIdenticalState(*from_exact, model.model());
  // A snapshot from before the fit existed restores with a fresh one.
  std::vector<NamedTensor> old;
  for (const NamedTensor& t : model.model().ExportState()) {
    if (t.name.rfind("least_squares", 0) != 0) old.push_back(t);
  }
  absl::StatusOr<LinearModel> restored =
      LinearModel::FromState(model.config(), model.version(), old);
  ASSERT_THAT(restored, IsOk());
  EXPECT_EQ(restored->least_squares().updates(), 0);
}

TEST(LeastSquaresCompanionTest, ARetrainedModelStartsItFromTheDataset) {
  // A batch fit of the first 1000 samples, then 304 more learned online
  // (ending on a refresh): the fit is the least-squares fit of all 1304,
  // with the prior centred on the batch fit c:
  // (sum h x~ x~^T + r I) w = sum h y x~ + r c.
  const uint32_t d = 3;
  ASSERT_TRUE(LeastSquaresCompanion::RefreshesAfter(304, d));
  const std::vector<Sample> samples = LinearStream(1304, d, 10);
  ModelConfig config = AutoConfig(d);
  config.l2 = 0;
  absl::StatusOr<ModelTrainer> trainer =
      ::streamfit::testing::FittedThenLearned(config, samples, 1000);
  ASSERT_THAT(trainer, IsOk());
  std::vector<double> center;
  for (const NamedTensor& t : trainer->model().ExportState()) {
    if (t.name == "least_squares_prior_center") center = t.values;
  }
  ASSERT_EQ(center.size(), d + 1);
  const Eigen::VectorXd want =
      RidgeFit(samples, samples.size(), d, LeastSquaresCompanion::kRidge,
               Eigen::Map<Eigen::VectorXd>(center.data(), d + 1));
  const std::vector<double>& got = trainer->model().least_squares().weights();
  for (uint32_t j = 0; j <= d; ++j) {
    EXPECT_NEAR(got[j], want[j], 1e-7 * std::max(1.0, std::abs(want[j]))) << j;
  }
}

TEST(LeastSquaresCompanionTest, KeptOnlyForNarrowDenseSquaredRegression) {
  const auto keeps = [](ModelConfig config) {
    absl::StatusOr<ModelConfig> full = WithDefaults(config);
    EXPECT_THAT(full, IsOk());
    const bool applies = LeastSquaresCompanion::AppliesTo(*full);
    EXPECT_EQ(MustCreate(config).least_squares().active(), applies);
    return applies;
  };
  EXPECT_TRUE(keeps(AutoConfig(1)));
  EXPECT_TRUE(keeps(AutoConfig(LeastSquaresCompanion::kMaxFeatures)));
  EXPECT_FALSE(keeps(AutoConfig(LeastSquaresCompanion::kMaxFeatures + 1)));
  ModelConfig hashed_only = AutoConfig(0);
  hashed_only.hash_bits = 10;
  EXPECT_FALSE(keeps(hashed_only));
  EXPECT_FALSE(keeps(Config(Task::kBinary, 3)));
  ModelConfig config = AutoConfig(3);
  config.loss = LossKind::kHuber;
  EXPECT_FALSE(keeps(config));
  for (Serving s : {Serving::kLive, Serving::kAveraged}) {
    config = AutoConfig(3);
    config.serving = s;
    EXPECT_FALSE(keeps(config));
  }
  ModelConfig rls = AutoConfig(3);
  rls.optimizer = Optimizer::kRls;
  EXPECT_FALSE(keeps(rls));
  // Its state counts in the model's size: A, b, c, w and three values.
  ModelConfig averaged = AutoConfig(3);
  averaged.serving = Serving::kAveraged;
  EXPECT_EQ(ModelStateBytes(*WithDefaults(AutoConfig(3))) -
                ModelStateBytes(*WithDefaults(averaged)),
            8u * (16 + 3 * 4 + 3));
}

}  // namespace
}  // namespace streamfit
