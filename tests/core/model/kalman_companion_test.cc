// The Kalman filter kept beside the rule (serving auto, narrow dense
// classification): each sample updates each filter by the extended Kalman
// filter's equations, so the covariance stays the inverse of the prior's
// precision plus every sample's; auto serves it where its recent loss is the
// lowest, and Predict then serves exactly it; it restarts after a change,
// retires at the first hashed feature, continues bit-identically from a
// snapshot and starts a retrained model from the dataset.
#include "core/model/kalman_companion.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>

#include "core/batch_trainer.h"
#include "core/model/example_batch.h"
#include "core/model/linear_model.h"
#include "core/model/loss.h"
#include "core/model/model_config.h"
#include "core/model/model_trainer.h"
#include "core/model/running_stats.h"
#include "tests/testing/model_state.h"
#include "tests/testing/model_streams.h"
#include "tests/testing/status_matchers.h"

namespace streamfit {
namespace {

using ::streamfit::testing::Config;
using ::streamfit::testing::ExpectIdenticalState;
using ::streamfit::testing::IsOk;
using ::streamfit::testing::MustCreate;
using ::streamfit::testing::StatusIs;
using ::streamfit::testing::Stream;
using ::testing::HasSubstr;

// Labels drawn from a logistic (binary) or softmax (classes > 2) model of d
// standard normal features of offsets and scales unlike each other, its
// weights multiplied by `sharpness`; from sample `flip` on (if >= 0) the
// weights are negated.
Stream NoisyStream(int n, uint32_t d, uint32_t classes, uint32_t seed,
                   int flip = -1, double sharpness = 1) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal;
  std::uniform_real_distribution<double> uniform;
  Stream s;
  s.num_features = d;
  const uint32_t outputs = classes > 2 ? classes : 1;
  for (int i = 0; i < n; ++i) {
    const double sign = (flip >= 0 && i >= flip ? -1 : 1) * sharpness;
    std::vector<float> x(d);
    std::vector<double> score(outputs, 0.0);
    for (uint32_t j = 0; j < d; ++j) {
      const double u = normal(rng);
      x[j] = static_cast<float>((j + 1) * u + 2.0 * j);
      for (uint32_t k = 0; k < outputs; ++k) {
        score[k] += sign * ((j + k) % 3 == 0 ? 1.5 : -0.7) * u;
      }
    }
    double label;
    if (outputs == 1) {
      label = uniform(rng) < Sigmoid(score[0]) ? 1 : 0;
    } else {
      double total = 0;
      for (double& v : score) total += v = std::exp(v);
      double r = uniform(rng) * total;
      label = 0;
      while (label + 1 < outputs && (r -= score[label]) > 0) label += 1;
    }
    s.x.push_back(std::move(x));
    s.y.push_back(label);
  }
  return s;
}

ModelConfig BinaryConfig(uint32_t d) { return Config(Task::kBinary, d); }

TEST(KalmanCompanionTest, FollowsTheFilterEquationsByHand) {
  KalmanCompanion kf(1, 1);
  std::vector<double> scratch(kf.ScratchSize());
  // From the prior w = 0, P = I, the input (2, 1) and label 1: s = 0,
  // p = 1/2, g = 1/4, u = P x~ = (2, 1), x~ . u = 5, 1 + g 5 = 9/4, so
  // w = (1/2) / (9/4) u = (4/9, 2/9) and P = I - (1/4) / (9/4) u u^T.
  const double z1[] = {2};
  double s[1];
  kf.Score(z1, s, scratch.data());
  EXPECT_EQ(s[0], 0);
  kf.Learn(1, 1, scratch.data());
  KalmanCompanion::Values v = kf.Export();
  EXPECT_DOUBLE_EQ(v.weights[0], 4.0 / 9);
  EXPECT_DOUBLE_EQ(v.weights[1], 2.0 / 9);
  EXPECT_DOUBLE_EQ(v.covariance[0], 5.0 / 9);
  EXPECT_DOUBLE_EQ(v.covariance[1], -2.0 / 9);
  EXPECT_DOUBLE_EQ(v.covariance[2], -2.0 / 9);
  EXPECT_DOUBLE_EQ(v.covariance[3], 8.0 / 9);
  EXPECT_EQ(kf.updates(), 1);
  // Then (-1, 1), label 0, importance weight 2: w . x~ = -4/9 + 2/9,
  // u = P x~ = (-7/9, 10/9), x~ . u = 17/9; the score is moderated by that
  // variance, the update uses the filter's own.
  const double z2[] = {-1};
  kf.Score(z2, s, scratch.data());
  EXPECT_DOUBLE_EQ(s[0], (-2.0 / 9) / std::sqrt(1 + M_PI / 8 * 17 / 9));
  kf.Learn(0, 2, scratch.data());
  const double p = 1 / (1 + std::exp(2.0 / 9)), g = p * (1 - p);
  const double u[] = {-7.0 / 9, 10.0 / 9}, denominator = 1 + 2 * g * 17 / 9;
  v = kf.Export();
  const double w[] = {4.0 / 9, 2.0 / 9};
  const double p0[] = {5.0 / 9, -2.0 / 9, -2.0 / 9, 8.0 / 9};
  for (int i = 0; i < 2; ++i) {
    EXPECT_NEAR(v.weights[i], w[i] - 2 * p / denominator * u[i], 1e-15);
    for (int j = 0; j < 2; ++j) {
      EXPECT_NEAR(v.covariance[2 * i + j],
                  p0[2 * i + j] - 2 * g / denominator * u[i] * u[j], 1e-15);
    }
  }
}

TEST(KalmanCompanionTest, CovarianceIsTheInversePrecisionOfEverySample) {
  // P^-1 = I + sum_i h_i g_i x~_i x~_i^T, with g_i = p_i (1 - p_i) at the
  // weights before sample i; and a model of k classes keeps k filters of
  // its classes against the rest, each as a binary filter of that target.
  const uint32_t d = 3, n = d + 1, classes = 3;
  KalmanCompanion multi(d, classes);
  std::vector<KalmanCompanion> binary(classes, KalmanCompanion(d, 1));
  std::vector<Eigen::MatrixXd> precision(classes,
                                         Eigen::MatrixXd::Identity(n, n));
  std::mt19937 rng(1);
  std::normal_distribution<double> normal;
  std::vector<double> scratch(multi.ScratchSize());
  double scores[classes];
  for (int i = 0; i < 300; ++i) {
    double z[d];
    for (double& zj : z) zj = normal(rng);
    const double label = i % classes, h = 0.5 + (i % 4) * 0.5;
    Eigen::VectorXd x(n);
    x << z[0], z[1], z[2], 1;
    for (uint32_t c = 0; c < classes; ++c) {
      const double p = Sigmoid(
          Eigen::Map<const Eigen::VectorXd>(&multi.weights()[c * n], n).dot(x));
      precision[c] += h * p * (1 - p) * x * x.transpose();
      binary[c].Score(z, scores, scratch.data());
      binary[c].Learn(label == c ? 1 : 0, h, scratch.data());
    }
    multi.Score(z, scores, scratch.data());
    multi.Learn(label, h, scratch.data());
  }
  const KalmanCompanion::Values v = multi.Export();
  for (uint32_t c = 0; c < classes; ++c) {
    const KalmanCompanion::Values b = binary[c].Export();
    const Eigen::MatrixXd want =
        precision[c].ldlt().solve(Eigen::MatrixXd::Identity(n, n));
    for (uint32_t i = 0; i < n; ++i) {
      ASSERT_EQ(v.weights[c * n + i], b.weights[i]);
      for (uint32_t j = 0; j < n; ++j) {
        const double got = v.covariance[c * n * n + i * n + j];
        ASSERT_EQ(got, b.covariance[i * n + j]);
        EXPECT_NEAR(got, want(i, j), 1e-9 * std::abs(want(i, i))) << c;
      }
    }
  }
}

TEST(KalmanCompanionTest, AutoServesItWhereItPredictsWellAndExactly) {
  for (const uint32_t classes : {2u, 4u}) {
    const uint32_t d = 5, n = d + 1, outputs = classes == 2 ? 1 : classes;
    const ModelConfig config =
        classes == 2 ? BinaryConfig(d) : Config(Task::kMulticlass, d, classes);
    ModelTrainer model(MustCreate(config));
    ASSERT_TRUE(model.model().kalman().active());
    ModelConfig live_config = config;
    live_config.serving = Serving::kLive;
    ModelTrainer live(MustCreate(live_config));
    // Fewer samples than LinearModel::kExactScaleSamples: the model's
    // standardization is that of the samples so far.
    const Stream stream = NoisyStream(1'000, d, classes, 2);
    int served = 0;
    for (size_t i = 0; i < stream.size(); ++i) {
      const LinearModel& m = model.model();
      const ServedWeights choice = m.Served();
      const bool near =
          m.RecentKalmanLoss() <=
          KalmanCompanion::kServingMargin *
              std::min(m.RecentLiveLoss(), m.RecentAveragedLoss());
      EXPECT_EQ(choice == ServedWeights::kKalman, i > 0 && near) << i;
      if (choice == ServedWeights::kKalman) {
        ++served;
        // Each filter's moderated score of the standardized input.
        const RunningStats& stats = m.feature_stats();
        Eigen::VectorXd x(n);
        for (uint32_t j = 0; j < d; ++j) {
          x[j] = (stream.x[i][j] - stats.mean()[j]) / stats.SafeStd(j);
        }
        x[d] = 1;
        const KalmanCompanion::Values v = m.kalman().Export();
        Eigen::VectorXd scores(outputs);
        for (uint32_t c = 0; c < outputs; ++c) {
          const Eigen::Map<const Eigen::MatrixXd> p(&v.covariance[c * n * n], n,
                                                    n);
          scores[c] =
              Eigen::Map<const Eigen::VectorXd>(&v.weights[c * n], n).dot(x) /
              std::sqrt(1 + M_PI / 8 * x.dot(p * x));
        }
        Prediction got;
        m.Predict(stream.x[i], got);
        if (classes == 2) {
          ASSERT_NEAR(got.value, Sigmoid(scores[0]), 1e-12) << i;
        } else {
          Eigen::VectorXd p;
          Softmax(scores, p);
          for (uint32_t k = 0; k < classes; ++k) {
            ASSERT_NEAR(got.scores[k], p[k], 1e-12) << i;
          }
        }
      }
      model.Learn(stream.x[i], stream.y[i]);
      live.Learn(stream.x[i], stream.y[i]);
    }
    EXPECT_GT(served, 500) << classes;
    const double with = model.model().metrics().progressive_accuracy,
                 without = live.model().metrics().progressive_accuracy;
    std::printf("%u classes, progressive accuracy: auto %.4f, live %.4f\n",
                classes, with, without);
    EXPECT_GT(with, without);
  }
}

TEST(KalmanCompanionTest, RestartsWhenItFallsBehind) {
  // Two features whose true weights turn slowly, a full turn over the
  // stream: the filter, ever surer of its weights, falls behind the rule's
  // constant-rate steps until its recent loss passes 1.25 times the live
  // weights' and it restarts.
  ModelTrainer model(MustCreate(BinaryConfig(2)));
  ModelConfig live_config = BinaryConfig(2);
  live_config.serving = Serving::kLive;
  ModelTrainer live(MustCreate(live_config));
  std::mt19937 rng(3);
  std::normal_distribution<double> normal;
  std::uniform_real_distribution<double> uniform;
  int restarts = 0;
  for (int i = 0; i < 40'000; ++i) {
    const double angle = 2 * M_PI * i / 40'000;
    const std::vector<float> x = {static_cast<float>(normal(rng)),
                                  static_cast<float>(normal(rng))};
    const double score = 4 * (std::cos(angle) * x[0] + std::sin(angle) * x[1]);
    const double label = uniform(rng) < Sigmoid(score) ? 1 : 0;
    const KalmanCompanion::Values before = model.model().kalman().Export();
    model.Learn(x, label);
    live.Learn(x, label);
    if (model.model().kalman().updates() < before.updates) {
      ++restarts;
      EXPECT_EQ(model.model().kalman().updates(), 1);
      // It must earn its record again.
      EXPECT_EQ(model.model().RecentKalmanLoss(),
                model.model().RecentLiveLoss());
      // It learned the sample from the prior's covariance I, keeping its
      // weights: I - P = g / (1 + g |z~|^2) z~ z~^T, where z~'s last
      // coordinate is 1 and g = p (1 - p) at the weights before.
      const KalmanCompanion::Values after = model.model().kalman().Export();
      const int n = 3;
      const auto drop = [&](int i, int j) {
        return (i == j ? 1.0 : 0.0) - after.covariance[i * n + j];
      };
      const double shrink = drop(n - 1, n - 1);
      double z[n], norm2 = 0, score = 0;
      for (int i = 0; i < n; ++i) {
        z[i] = drop(i, n - 1) / shrink;
        norm2 += z[i] * z[i];
        score += before.weights[i] * z[i];
      }
      const double g = Sigmoid(score) * (1 - Sigmoid(score));
      EXPECT_NEAR(shrink, g / (1 + g * norm2), 1e-12) << i;
      for (int r = 0; r < n; ++r) {
        for (int c = 0; c < n; ++c) {
          EXPECT_NEAR(drop(r, c), shrink * z[r] * z[c], 1e-12) << i;
        }
      }
    }
  }
  EXPECT_GE(restarts, 1);
  const double with = model.model().metrics().progressive_accuracy,
               without = live.model().metrics().progressive_accuracy;
  std::printf("%d restarts; progressive accuracy: auto %.4f, live %.4f\n",
              restarts, with, without);
  EXPECT_GT(with, without);
}

TEST(KalmanCompanionTest, AHashedFeatureRetiresItForGood) {
  const uint32_t d = 2;
  ModelTrainer model(MustCreate(BinaryConfig(d)));
  const Stream stream = NoisyStream(300, d, 2, 4);
  for (size_t i = 0; i < 100; ++i) model.Learn(stream.x[i], stream.y[i]);
  const std::vector<uint32_t> hashes = {42}, namespaces = {0};
  const std::vector<float> values = {1};
  model.Learn(ExampleView{stream.x[100], hashes, namespaces, values},
              stream.y[100]);
  EXPECT_FALSE(model.model().kalman().active());
  EXPECT_NE(model.model().Served(), ServedWeights::kKalman);
  for (size_t i = 101; i < stream.size(); ++i) {
    model.Learn(stream.x[i], stream.y[i]);
  }
  EXPECT_FALSE(model.model().kalman().active());
  absl::StatusOr<LinearModel> restored = LinearModel::FromState(
      model.config(), model.version(), model.model().ExportState());
  ASSERT_THAT(restored, IsOk());
  EXPECT_FALSE(restored->kalman().active());
  ExpectIdenticalState(*restored, model.model());
}

TEST(KalmanCompanionTest, RestoredStateContinuesBitIdentically) {
  const uint32_t d = 4, classes = 3;
  const ModelConfig config = Config(Task::kMulticlass, d, classes);
  const Stream stream = NoisyStream(6'000, d, classes, 5, 3'000);
  ModelTrainer whole(MustCreate(config));
  ModelTrainer first(MustCreate(config));
  for (size_t i = 0; i < 1'500; ++i) {
    whole.Learn(stream.x[i], stream.y[i]);
    first.Learn(stream.x[i], stream.y[i]);
  }
  absl::StatusOr<LinearModel> restored = LinearModel::FromState(
      first.config(), first.version(), first.model().ExportState());
  ASSERT_THAT(restored, IsOk());
  ModelTrainer second(*std::move(restored));
  // On through the change and the filters' restart.
  for (size_t i = 1'500; i < stream.size(); ++i) {
    Prediction a, b;
    whole.model().Predict(stream.x[i], a);
    second.model().Predict(stream.x[i], b);
    ASSERT_EQ(a.scores, b.scores) << i;
    whole.Learn(stream.x[i], stream.y[i]);
    second.Learn(stream.x[i], stream.y[i]);
  }
  ExpectIdenticalState(whole.model(), second.model());
  EXPECT_TRUE(second.model().kalman().active());
}

TEST(KalmanCompanionTest, FromStateRefusesBrokenValues) {
  const uint32_t d = 2;
  ModelTrainer model(MustCreate(BinaryConfig(d)));
  const Stream stream = NoisyStream(50, d, 2, 6);
  for (size_t i = 0; i < stream.size(); ++i) {
    model.Learn(stream.x[i], stream.y[i]);
  }
  const struct {
    const char* name;
    size_t index;
    double value;
  } cases[] = {{"kalman", 0, 0.5},
               {"kalman", 1, -1},
               {"kalman_covariance", 0, -1},
               {"kalman_covariance", 4, 0},
               // Positive on the diagonal, but indefinite.
               {"kalman_covariance", 3, 10},
               {"kalman_weights", 1, std::nan("")}};
  for (const auto& c : cases) {
    std::vector<NamedTensor> state = model.model().ExportState();
    for (NamedTensor& t : state) {
      if (t.name == c.name) t.values[c.index] = c.value;
    }
    EXPECT_THAT(LinearModel::FromState(model.config(), model.version(), state),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.name)))
        << c.name;
  }
  // A snapshot from before the filter existed restores with a fresh one.
  std::vector<NamedTensor> old;
  for (const NamedTensor& t : model.model().ExportState()) {
    if (t.name.rfind("kalman", 0) != 0) old.push_back(t);
  }
  absl::StatusOr<LinearModel> restored =
      LinearModel::FromState(model.config(), model.version(), old);
  ASSERT_THAT(restored, IsOk());
  EXPECT_EQ(restored->kalman().updates(), 0);
  EXPECT_EQ(restored->kalman().weights(), std::vector<double>(d + 1, 0.0));
}

TEST(KalmanCompanionTest, ARetrainedModelStartsItFromTheDataset) {
  // Centred on the batch fit's weights, with the Laplace covariance
  // (I + sum_i g_i z~_i z~_i^T)^-1 at them.
  const uint32_t d = 3, n = d + 1;
  const ModelConfig config = BinaryConfig(d);
  const Stream stream = NoisyStream(1'000, d, 2, 7);
  ExampleBatch data;
  data.num_features = d;
  for (size_t i = 0; i < stream.size(); ++i) data.Add(stream.x[i], stream.y[i]);
  absl::StatusOr<LinearModel> fitted = Fit(config, data, FitOptions{});
  ASSERT_THAT(fitted, IsOk());
  const KalmanCompanion& kf = fitted->kalman();
  ASSERT_TRUE(kf.active());
  EXPECT_EQ(kf.updates(), 0);
  // The live weights are the fit, in standardized inputs; so are the
  // filter's.
  std::vector<double> live, bias;
  for (const NamedTensor& t : fitted->ExportState()) {
    if (t.name == "weights") live = t.values;
    if (t.name == "bias") bias = t.values;
  }
  live.insert(live.end(), bias.begin(), bias.end());
  ASSERT_EQ(live.size(), n);
  EXPECT_EQ(kf.weights(), live);
  const RunningStats& stats = fitted->feature_stats();
  ASSERT_EQ(stats.count(), 1'000);
  Eigen::MatrixXd precision = Eigen::MatrixXd::Identity(n, n);
  for (size_t i = 0; i < stream.size(); ++i) {
    Eigen::VectorXd x(n);
    for (uint32_t j = 0; j < d; ++j) {
      x[j] = (stream.x[i][j] - stats.mean()[j]) / stats.SafeStd(j);
    }
    x[d] = 1;
    const double p =
        Sigmoid(Eigen::Map<const Eigen::VectorXd>(live.data(), n).dot(x));
    precision += p * (1 - p) * x * x.transpose();
  }
  const Eigen::MatrixXd want =
      precision.ldlt().solve(Eigen::MatrixXd::Identity(n, n));
  const KalmanCompanion::Values v = kf.Export();
  for (uint32_t i = 0; i < n; ++i) {
    for (uint32_t j = 0; j < n; ++j) {
      EXPECT_NEAR(v.covariance[i * n + j], want(i, j),
                  1e-9 * std::abs(want(i, i)));
    }
  }
  // One more sample moves a filter this sure of its weights only a little.
  ModelTrainer trainer(*std::move(fitted));
  const Stream more = NoisyStream(1, d, 2, 8);
  trainer.Learn(more.x[0], more.y[0]);
  EXPECT_EQ(trainer.model().kalman().updates(), 1);
  for (uint32_t j = 0; j < n; ++j) {
    EXPECT_LT(std::abs(trainer.model().kalman().weights()[j] - live[j]), 0.05);
  }
}

TEST(KalmanCompanionTest, KeptOnlyForNarrowDenseLogisticClassifiers) {
  const auto keeps = [](ModelConfig config) {
    absl::StatusOr<ModelConfig> full = WithDefaults(config);
    EXPECT_THAT(full, IsOk());
    const bool applies = KalmanCompanion::AppliesTo(*full);
    EXPECT_EQ(MustCreate(config).kalman().active(), applies);
    return applies;
  };
  EXPECT_TRUE(keeps(BinaryConfig(1)));
  EXPECT_TRUE(keeps(BinaryConfig(63)));  // 64^2 = 4096 covariance values
  EXPECT_FALSE(keeps(BinaryConfig(64)));
  EXPECT_TRUE(keeps(Config(Task::kMulticlass, 13, 3)));    // wine: 588
  EXPECT_FALSE(keeps(Config(Task::kMulticlass, 64, 10)));  // digits: 42,250
  EXPECT_FALSE(keeps(Config(Task::kRegression, 3)));
  ModelConfig config = BinaryConfig(3);
  config.loss = LossKind::kHinge;
  EXPECT_FALSE(keeps(config));
  config = BinaryConfig(3);
  config.standardize = false;
  EXPECT_FALSE(keeps(config));
  for (Serving s : {Serving::kLive, Serving::kAveraged}) {
    config = BinaryConfig(3);
    config.serving = s;
    EXPECT_FALSE(keeps(config));
  }
  ModelConfig hashed_only = BinaryConfig(0);
  hashed_only.hash_bits = 10;
  EXPECT_FALSE(keeps(hashed_only));
  // Its state counts in the model's size: k (n^2 + n) and three values.
  ModelConfig averaged = Config(Task::kMulticlass, 3, 3);
  averaged.serving = Serving::kAveraged;
  EXPECT_EQ(ModelStateBytes(*WithDefaults(Config(Task::kMulticlass, 3, 3))) -
                ModelStateBytes(*WithDefaults(averaged)),
            8u * (3 * (16 + 4) + 3));
}

}  // namespace
}  // namespace streamfit
