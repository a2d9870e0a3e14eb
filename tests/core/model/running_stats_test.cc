#include "core/model/running_stats.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace streamfit {
namespace {

constexpr int kDim = 4;

// Rows of random data with a different location and scale per column.
std::vector<std::vector<float>> RandomRows(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0, 1);
  std::vector<std::vector<float>> rows(n, std::vector<float>(kDim));
  for (auto& row : rows) {
    for (int j = 0; j < kDim; ++j) {
      row[j] = 1000.0f * j + std::pow(10.0f, j - 1) * normal(rng);
    }
  }
  return rows;
}

// Two-pass mean and population variance per column.
void TwoPass(const std::vector<std::vector<float>>& rows, Eigen::VectorXd& mean,
             Eigen::VectorXd& var) {
  mean = Eigen::VectorXd::Zero(kDim);
  var = Eigen::VectorXd::Zero(kDim);
  for (const auto& row : rows) {
    for (int j = 0; j < kDim; ++j) mean[j] += row[j];
  }
  mean /= rows.size();
  for (const auto& row : rows) {
    for (int j = 0; j < kDim; ++j) {
      var[j] += (row[j] - mean[j]) * (row[j] - mean[j]);
    }
  }
  var /= rows.size();
}

TEST(RunningStatsTest, StartsEmptyWithUnitStd) {
  RunningStats stats(kDim);
  EXPECT_EQ(stats.count(), 0);
  EXPECT_EQ(stats.mean(), Eigen::VectorXd::Zero(kDim));
  EXPECT_EQ(stats.m2(), Eigen::VectorXd::Zero(kDim));
  EXPECT_EQ(stats.SafeStd(), Eigen::VectorXd::Ones(kDim));
}

TEST(RunningStatsTest, MeanAndVarianceMatchTwoPassFormulas) {
  const auto rows = RandomRows(5000, 42);
  RunningStats stats(kDim);
  for (const auto& row : rows) stats.Add(row);
  Eigen::VectorXd mean, var;
  TwoPass(rows, mean, var);
  ASSERT_EQ(stats.count(), 5000);
  for (int j = 0; j < kDim; ++j) {
    EXPECT_NEAR(stats.mean()[j], mean[j], 1e-9 * (1 + std::abs(mean[j])))
        << "column " << j;
    EXPECT_NEAR(stats.m2()[j] / stats.count(), var[j], 1e-9 * var[j])
        << "column " << j;
    EXPECT_NEAR(stats.SafeStd(j), std::sqrt(var[j]), 1e-9 * std::sqrt(var[j]))
        << "column " << j;
  }
}

TEST(RunningStatsTest, ScalarAddMatchesTwoPassFormulas) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> uniform(-50, 150);
  std::vector<double> xs(1000);
  for (double& x : xs) x = uniform(rng);
  RunningStats stats(1);
  double sum = 0;
  for (double x : xs) {
    stats.Add(x);
    sum += x;
  }
  const double mean = sum / xs.size();
  double ss = 0;
  for (double x : xs) ss += (x - mean) * (x - mean);
  EXPECT_NEAR(stats.mean()[0], mean, 1e-10);
  EXPECT_NEAR(stats.m2()[0], ss, 1e-9 * ss);
  EXPECT_NEAR(stats.SafeStd(0), std::sqrt(ss / xs.size()), 1e-9);
}

TEST(RunningStatsTest, StandardizeSubtractsMeanAndDividesByStd) {
  const auto rows = RandomRows(200, 3);
  RunningStats stats(kDim);
  for (const auto& row : rows) stats.Add(row);
  Eigen::VectorXd z;
  stats.Standardize(rows[17], z);
  ASSERT_EQ(z.size(), kDim);
  for (int j = 0; j < kDim; ++j) {
    EXPECT_DOUBLE_EQ(z[j], (rows[17][j] - stats.mean()[j]) / stats.SafeStd(j));
  }
  // Standardized data has mean 0 and std 1 per column.
  Eigen::VectorXd sum = Eigen::VectorXd::Zero(kDim);
  Eigen::VectorXd sum_sq = Eigen::VectorXd::Zero(kDim);
  for (const auto& row : rows) {
    stats.Standardize(row, z);
    sum += z;
    sum_sq += z.cwiseAbs2();
  }
  for (int j = 0; j < kDim; ++j) {
    EXPECT_NEAR(sum[j] / rows.size(), 0, 1e-9);
    EXPECT_NEAR(sum_sq[j] / rows.size(), 1, 1e-9);
  }
}

TEST(RunningStatsTest, SafeStdIsOneForConstantFeature) {
  RunningStats stats(2);
  for (int i = 0; i < 100; ++i) {
    stats.Add(std::vector<float>{3.7f, static_cast<float>(i)});
  }
  EXPECT_EQ(stats.SafeStd(0), 1.0);
  EXPECT_GT(stats.SafeStd(1), 1.0);
  Eigen::VectorXd z;
  stats.Standardize(std::vector<float>{3.7f, 0}, z);
  EXPECT_EQ(z[0], 0.0);
  EXPECT_TRUE(z.allFinite());
}

TEST(RunningStatsTest, SafeStdIsOneAfterASingleObservation) {
  RunningStats stats(1);
  stats.Add(5.0);
  EXPECT_EQ(stats.SafeStd(0), 1.0);
  Eigen::VectorXd z;
  stats.Standardize(std::vector<float>{7}, z);
  EXPECT_EQ(z[0], 2.0);
}

TEST(RunningStatsTest, FromStateRoundTripContinuesIdentically) {
  const auto rows = RandomRows(300, 11);
  RunningStats original(kDim);
  for (int i = 0; i < 100; ++i) original.Add(rows[i]);
  RunningStats restored =
      RunningStats::FromState(original.count(), original.mean(), original.m2());
  EXPECT_EQ(restored.count(), original.count());
  EXPECT_EQ(restored.mean(), original.mean());
  EXPECT_EQ(restored.m2(), original.m2());
  for (int i = 100; i < 300; ++i) {
    original.Add(rows[i]);
    restored.Add(rows[i]);
  }
  EXPECT_EQ(restored.count(), 300);
  EXPECT_EQ(restored.mean(), original.mean());
  EXPECT_EQ(restored.m2(), original.m2());
  EXPECT_EQ(restored.SafeStd(), original.SafeStd());
}

}  // namespace
}  // namespace streamfit
