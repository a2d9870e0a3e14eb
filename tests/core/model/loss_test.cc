#include "core/model/loss.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace streamfit {
namespace {

// Checks LossAndGradient's gradient against central finite differences of
// Loss at `scores`.
void ExpectGradientMatchesFiniteDifferences(Task task,
                                            const Eigen::VectorXd& scores,
                                            double label) {
  Eigen::VectorXd grad;
  const double loss = LossAndGradient(task, scores, label, grad);
  EXPECT_DOUBLE_EQ(loss, Loss(task, scores, label));
  ASSERT_EQ(grad.size(), scores.size());
  constexpr double kH = 1e-5;
  for (Eigen::Index k = 0; k < scores.size(); ++k) {
    Eigen::VectorXd plus = scores, minus = scores;
    plus[k] += kH;
    minus[k] -= kH;
    const double numeric =
        (Loss(task, plus, label) - Loss(task, minus, label)) / (2 * kH);
    EXPECT_NEAR(grad[k], numeric, 1e-6)
        << TaskName(task) << " scores " << scores.transpose() << " label "
        << label << " coordinate " << k;
  }
}

TEST(LossTest, RegressionGradientMatchesFiniteDifferences) {
  std::mt19937 rng(1);
  std::normal_distribution<double> normal(0, 3);
  for (int trial = 0; trial < 20; ++trial) {
    Eigen::VectorXd s(1);
    s[0] = normal(rng);
    ExpectGradientMatchesFiniteDifferences(Task::kRegression, s, normal(rng));
  }
}

TEST(LossTest, RegressionLossIsHalfSquaredError) {
  Eigen::VectorXd s(1), grad;
  s[0] = 5;
  EXPECT_DOUBLE_EQ(LossAndGradient(Task::kRegression, s, 2, grad), 4.5);
  EXPECT_DOUBLE_EQ(grad[0], 3);
}

TEST(LossTest, BinaryGradientMatchesFiniteDifferences) {
  std::mt19937 rng(2);
  std::normal_distribution<double> normal(0, 4);
  for (int trial = 0; trial < 20; ++trial) {
    Eigen::VectorXd s(1);
    s[0] = normal(rng);
    ExpectGradientMatchesFiniteDifferences(Task::kBinary, s, trial % 2);
  }
}

TEST(LossTest, BinaryLossIsLogisticLoss) {
  Eigen::VectorXd s(1);
  s[0] = 0;
  EXPECT_DOUBLE_EQ(Loss(Task::kBinary, s, 0), std::log(2.0));
  EXPECT_DOUBLE_EQ(Loss(Task::kBinary, s, 1), std::log(2.0));
  s[0] = 2;
  EXPECT_NEAR(Loss(Task::kBinary, s, 1), std::log1p(std::exp(-2.0)), 1e-15);
  EXPECT_NEAR(Loss(Task::kBinary, s, 0), std::log1p(std::exp(2.0)), 1e-15);
}

TEST(LossTest, MulticlassGradientMatchesFiniteDifferences) {
  std::mt19937 rng(3);
  std::normal_distribution<double> normal(0, 2);
  for (int trial = 0; trial < 20; ++trial) {
    Eigen::VectorXd s(5);
    for (auto& v : s) v = normal(rng);
    ExpectGradientMatchesFiniteDifferences(Task::kMulticlass, s, trial % 5);
  }
}

TEST(LossTest, MulticlassLossIsCrossEntropyOfSoftmax) {
  Eigen::VectorXd s(3);
  s << 1, 2, 3;
  const double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  EXPECT_NEAR(Loss(Task::kMulticlass, s, 0), -std::log(std::exp(1.0) / z),
              1e-12);
  EXPECT_NEAR(Loss(Task::kMulticlass, s, 2), -std::log(std::exp(3.0) / z),
              1e-12);
}

TEST(LossTest, SoftmaxIsStableAtHugeScores) {
  Eigen::VectorXd s(4), probs;
  s << 1e300, -1e300, 1e4, 1e300;
  Softmax(s, probs);
  ASSERT_TRUE(probs.allFinite()) << probs.transpose();
  EXPECT_DOUBLE_EQ(probs.sum(), 1.0);
  EXPECT_DOUBLE_EQ(probs[0], 0.5);
  EXPECT_NEAR(probs[1], 0.0, 1e-300);
  EXPECT_DOUBLE_EQ(probs[3], 0.5);

  s << 1000, 999, -1000, 0;
  Softmax(s, probs);
  ASSERT_TRUE(probs.allFinite());
  EXPECT_NEAR(probs[0] / probs[1], std::exp(1.0), 1e-12);
}

TEST(LossTest, MulticlassLossAndGradientAreFiniteAtHugeScores) {
  Eigen::VectorXd s(3), grad;
  s << 1e6, -1e6, 0;
  const double right = LossAndGradient(Task::kMulticlass, s, 0, grad);
  EXPECT_TRUE(std::isfinite(right));
  EXPECT_NEAR(right, 0, 1e-12);
  EXPECT_TRUE(grad.allFinite());
  const double wrong = LossAndGradient(Task::kMulticlass, s, 1, grad);
  EXPECT_TRUE(std::isfinite(wrong));
  EXPECT_DOUBLE_EQ(wrong, 2e6);
  ASSERT_TRUE(grad.allFinite());
  EXPECT_NEAR(grad[0], 1, 1e-12);
  EXPECT_NEAR(grad[1], -1, 1e-12);
}

TEST(LossTest, LogisticLossIsFiniteAtExtremeScores) {
  Eigen::VectorXd s(1), grad;
  for (double score : {1000.0, -1000.0}) {
    s[0] = score;
    for (double label : {0.0, 1.0}) {
      const double loss = LossAndGradient(Task::kBinary, s, label, grad);
      EXPECT_TRUE(std::isfinite(loss)) << score << " " << label;
      EXPECT_TRUE(grad.allFinite()) << score << " " << label;
    }
  }
  s[0] = 1000;
  EXPECT_DOUBLE_EQ(Loss(Task::kBinary, s, 0), 1000);
  EXPECT_DOUBLE_EQ(Loss(Task::kBinary, s, 1), 0);
  s[0] = -1000;
  EXPECT_DOUBLE_EQ(Loss(Task::kBinary, s, 1), 1000);
  EXPECT_DOUBLE_EQ(Loss(Task::kBinary, s, 0), 0);
}

TEST(LossTest, SigmoidIsStableAndSymmetric) {
  EXPECT_EQ(Sigmoid(0), 0.5);
  EXPECT_EQ(Sigmoid(1000), 1.0);
  EXPECT_EQ(Sigmoid(-1000), 0.0);
  EXPECT_FALSE(std::isnan(Sigmoid(-1e308)));
  for (double s : {0.1, 1.0, 5.0, 30.0}) {
    EXPECT_NEAR(Sigmoid(s) + Sigmoid(-s), 1.0, 1e-15) << s;
    EXPECT_NEAR(Sigmoid(s), 1 / (1 + std::exp(-s)), 1e-15) << s;
  }
}

// Every configured loss's gradient against central finite differences, at
// random scores away from the kinks.
TEST(LossTest, EveryLossGradientMatchesFiniteDifferences) {
  struct Case {
    LossKind kind;
    int outputs;
    std::vector<double> labels;
  };
  const std::vector<Case> cases = {
      {LossKind::kSquared, 1, {-2, 0.5, 7}},
      {LossKind::kHuber, 1, {-2, 0.5, 7}},
      {LossKind::kQuantile, 1, {-2, 0.5, 7}},
      {LossKind::kPoisson, 1, {0, 1, 4}},
      {LossKind::kLogistic, 1, {0, 1}},
      {LossKind::kHinge, 1, {0, 1}},
      {LossKind::kSoftmax, 4, {0, 2, 3}},
  };
  std::mt19937 rng(77);
  std::uniform_real_distribution<double> uniform(-3, 3);
  constexpr double kH = 1e-6;
  for (const Case& c : cases) {
    LossSpec spec;
    spec.kind = c.kind;
    spec.huber_delta = 1.5;
    spec.quantile_tau = 0.3;
    for (int trial = 0; trial < 50; ++trial) {
      for (double label : c.labels) {
        std::vector<double> s(c.outputs), grad(c.outputs);
        for (double& v : s) v = uniform(rng);
        // Stay clear of the kinks, where the derivative jumps.
        if (c.kind == LossKind::kHuber &&
            std::abs(std::abs(s[0] - label) - 1.5) < 1e-3) {
          continue;
        }
        if (c.kind == LossKind::kQuantile && std::abs(s[0] - label) < 1e-3) {
          continue;
        }
        if (c.kind == LossKind::kHinge &&
            std::abs((2 * label - 1) * s[0] - 1) < 1e-3) {
          continue;
        }
        const double loss =
            LossAndGradient(spec, s.data(), c.outputs, label, grad.data());
        EXPECT_DOUBLE_EQ(loss, LossValue(spec, s.data(), c.outputs, label));
        for (int k = 0; k < c.outputs; ++k) {
          std::vector<double> plus = s, minus = s;
          plus[k] += kH;
          minus[k] -= kH;
          const double numeric =
              (LossValue(spec, plus.data(), c.outputs, label) -
               LossValue(spec, minus.data(), c.outputs, label)) /
              (2 * kH);
          EXPECT_NEAR(grad[k], numeric, 1e-5)
              << LossName(c.kind) << " s " << s[k] << " label " << label;
        }
      }
    }
  }
}

TEST(LossTest, RobustLossesHaveTheirTextbookValues) {
  LossSpec huber{LossKind::kHuber, 1.0, 0.5};
  double s = 3, g;
  EXPECT_DOUBLE_EQ(LossAndGradient(huber, &s, 1, 0, &g), 2.5);  // 1 (3 - .5)
  EXPECT_DOUBLE_EQ(g, 1);
  LossSpec quantile{LossKind::kQuantile, 1.0, 0.9};
  s = 1;
  EXPECT_DOUBLE_EQ(LossAndGradient(quantile, &s, 1, 3, &g), 0.9 * 2);
  EXPECT_DOUBLE_EQ(g, -0.9);
  EXPECT_DOUBLE_EQ(LossAndGradient(quantile, &s, 1, 0, &g), 0.1 * 1);
  EXPECT_DOUBLE_EQ(g, 0.1);
  LossSpec hinge{LossKind::kHinge, 1.0, 0.5};
  s = 0.25;
  EXPECT_DOUBLE_EQ(LossAndGradient(hinge, &s, 1, 1, &g), 0.75);
  EXPECT_DOUBLE_EQ(g, -1);
  s = 2;
  EXPECT_DOUBLE_EQ(LossAndGradient(hinge, &s, 1, 1, &g), 0);
  EXPECT_DOUBLE_EQ(g, 0);
  LossSpec poisson{LossKind::kPoisson, 1.0, 0.5};
  s = 0;
  EXPECT_DOUBLE_EQ(LossAndGradient(poisson, &s, 1, 3, &g), 1);
  EXPECT_DOUBLE_EQ(g, 1 - 3);
}

}  // namespace
}  // namespace streamfit
