// The batch fit algorithms (core/batch_trainer.h): least_squares against an
// independent long-double reference, the iterative ones against it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <random>
#include <vector>

#include "core/batch_trainer.h"
#include "tests/testing/status_matchers.h"

namespace streamfit {
namespace {

using ::streamfit::testing::IsOk;
using ::streamfit::testing::StatusIs;

constexpr int kFeatures = 4;

// y = w.x + 2 + noise with features of different means and scales (still
// well conditioned once standardized).
ExampleBatch Regression(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0, 1);
  const double w[kFeatures] = {1.5, -2, 0.5, 3};
  const float scale[kFeatures] = {1, 10, 0.1f, 2};
  const float shift[kFeatures] = {0, 5, -1, 3};
  ExampleBatch batch;
  batch.num_features = kFeatures;
  std::vector<float> x(kFeatures);
  for (int i = 0; i < n; ++i) {
    double y = 2 + 0.3 * normal(rng);
    for (int j = 0; j < kFeatures; ++j) {
      x[j] = shift[j] + scale[j] * normal(rng);
      y += w[j] / scale[j] * x[j];
    }
    batch.Add(x, y);
  }
  return batch;
}

// The ordinary least-squares solution [w, b] on raw features by the normal
// equations in long double with Gaussian elimination (partial pivoting).
std::vector<long double> ReferenceOls(const ExampleBatch& data) {
  const int m = kFeatures + 1;
  std::vector<std::vector<long double>> a(m, std::vector<long double>(m + 1));
  for (size_t i = 0; i < data.size(); ++i) {
    long double row[kFeatures + 1];
    for (int j = 0; j < kFeatures; ++j) row[j] = data.row(i)[j];
    row[kFeatures] = 1;
    for (int r = 0; r < m; ++r) {
      for (int c = 0; c < m; ++c) a[r][c] += row[r] * row[c];
      a[r][m] += row[r] * data.labels[i];
    }
  }
  for (int c = 0; c < m; ++c) {
    int pivot = c;
    for (int r = c + 1; r < m; ++r) {
      if (std::fabs(a[r][c]) > std::fabs(a[pivot][c])) pivot = r;
    }
    std::swap(a[c], a[pivot]);
    for (int r = 0; r < m; ++r) {
      if (r == c) continue;
      const long double f = a[r][c] / a[c][c];
      for (int k = c; k <= m; ++k) a[r][k] -= f * a[c][k];
    }
  }
  std::vector<long double> x(m);
  for (int r = 0; r < m; ++r) x[r] = a[r][m] / a[r][r];
  return x;
}

// |theta - ref| / |ref| with theta = the model's raw [w, b].
double RelativeError(const LinearModel& model,
                     const std::vector<long double>& ref) {
  const RawLinearFunction f = model.RawFunction();
  long double diff = 0, norm = 0;
  for (int j = 0; j <= kFeatures; ++j) {
    const long double v = j < kFeatures ? f.weights(0, j) : f.bias[0];
    diff += (v - ref[j]) * (v - ref[j]);
    norm += ref[j] * ref[j];
  }
  return std::sqrt(static_cast<double>(diff / norm));
}

ModelConfig RegressionConfig(double l2 = 0) {
  ModelConfig config;
  config.task = Task::kRegression;
  config.num_features = kFeatures;
  config.l2 = l2;
  return config;
}

absl::StatusOr<LinearModel> FitWith(FitAlgorithm algorithm,
                                    const ExampleBatch& data,
                                    const ModelConfig& config) {
  FitOptions options;
  options.algorithm = algorithm;
  options.tolerance = 1e-10;
  options.epochs = 30;
  return Fit(config, data, options);
}

TEST(FitAlgorithmsTest, LeastSquaresMatchesReferenceWithin1e6) {
  const ExampleBatch data = Regression(5000, 1);
  const std::vector<long double> ref = ReferenceOls(data);
  absl::StatusOr<LinearModel> model =
      FitWith(FitAlgorithm::kLeastSquares, data, RegressionConfig());
  ASSERT_THAT(model, IsOk());
  EXPECT_LT(RelativeError(*model, ref), 1e-6);
  // Also without standardization.
  ModelConfig raw = RegressionConfig();
  raw.standardize = false;
  model = FitWith(FitAlgorithm::kLeastSquares, data, raw);
  ASSERT_THAT(model, IsOk());
  EXPECT_LT(RelativeError(*model, ref), 1e-6);
}

TEST(FitAlgorithmsTest, IterativeAlgorithmsReachLeastSquaresWithin1e3) {
  const ExampleBatch data = Regression(5000, 2);
  const std::vector<long double> ref = ReferenceOls(data);
  for (FitAlgorithm a : {FitAlgorithm::kFullBatchGd, FitAlgorithm::kLbfgs,
                         FitAlgorithm::kMinibatchSgd}) {
    absl::StatusOr<LinearModel> model = FitWith(a, data, RegressionConfig());
    ASSERT_THAT(model, IsOk()) << FitAlgorithmName(a);
    EXPECT_LT(RelativeError(*model, ref), 1e-3) << FitAlgorithmName(a);
  }
}

TEST(FitAlgorithmsTest, RegularizedSolutionsAgree) {
  const ExampleBatch data = Regression(3000, 3);
  absl::StatusOr<LinearModel> exact =
      FitWith(FitAlgorithm::kLeastSquares, data, RegressionConfig(0.1));
  absl::StatusOr<LinearModel> lbfgs =
      FitWith(FitAlgorithm::kLbfgs, data, RegressionConfig(0.1));
  absl::StatusOr<LinearModel> plain =
      FitWith(FitAlgorithm::kLeastSquares, data, RegressionConfig(0));
  ASSERT_THAT(exact, IsOk());
  ASSERT_THAT(lbfgs, IsOk());
  ASSERT_THAT(plain, IsOk());
  const RawLinearFunction e = exact->RawFunction(), l = lbfgs->RawFunction(),
                          p = plain->RawFunction();
  EXPECT_LT((e.weights - l.weights).norm() / e.weights.norm(), 1e-6);
  // The penalty shrinks the weights.
  EXPECT_LT(e.weights.norm(), p.weights.norm());
}

TEST(FitAlgorithmsTest, LogisticGdAndLbfgsAgree) {
  std::mt19937 rng(4);
  std::normal_distribution<float> normal(0, 1);
  ExampleBatch data;
  data.num_features = 3;
  for (int i = 0; i < 3000; ++i) {
    std::vector<float> x = {normal(rng), normal(rng), normal(rng)};
    const double logit = x[0] - 2 * x[1] + 0.5;
    data.Add(x, std::uniform_real_distribution<double>(0, 1)(rng) <
                        1 / (1 + std::exp(-logit))
                    ? 1
                    : 0);
  }
  ModelConfig config;
  config.task = Task::kBinary;
  config.num_features = 3;
  config.l2 = 0.01;
  absl::StatusOr<LinearModel> gd =
      FitWith(FitAlgorithm::kFullBatchGd, data, config);
  absl::StatusOr<LinearModel> lbfgs =
      FitWith(FitAlgorithm::kLbfgs, data, config);
  ASSERT_THAT(gd, IsOk());
  ASSERT_THAT(lbfgs, IsOk());
  const RawLinearFunction a = gd->RawFunction(), b = lbfgs->RawFunction();
  EXPECT_LT((a.weights - b.weights).norm() / b.weights.norm(), 1e-3);
  EXPECT_NEAR(a.bias[0], b.bias[0], 1e-3);
}

TEST(FitAlgorithmsTest, MinibatchSgdIsDeterministicGivenSeed) {
  const ExampleBatch data = Regression(1000, 5);
  FitOptions options;
  options.algorithm = FitAlgorithm::kMinibatchSgd;
  options.epochs = 3;
  options.seed = 7;
  absl::StatusOr<LinearModel> a = Fit(RegressionConfig(), data, options);
  absl::StatusOr<LinearModel> b = Fit(RegressionConfig(), data, options);
  options.seed = 8;
  absl::StatusOr<LinearModel> c = Fit(RegressionConfig(), data, options);
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(a->ExportState()[0].values, b->ExportState()[0].values);
  EXPECT_NE(a->ExportState()[0].values, c->ExportState()[0].values);
}

TEST(FitAlgorithmsTest, ReportsProgressAndCancels) {
  const ExampleBatch data = Regression(500, 6);
  std::atomic<bool> cancelled{false};
  int reports = 0;
  FitOptions options;
  options.algorithm = FitAlgorithm::kMinibatchSgd;
  options.epochs = 50;
  options.cancelled = &cancelled;
  options.on_progress = [&](const FitProgress& p) {
    ++reports;
    EXPECT_EQ(p.max_steps, 50);
    EXPECT_EQ(p.step, reports);
    if (reports == 3) cancelled = true;
  };
  EXPECT_THAT(Fit(RegressionConfig(), data, options),
              StatusIs(absl::StatusCode::kCancelled));
  EXPECT_EQ(reports, 3);
  for (FitAlgorithm a : {FitAlgorithm::kFullBatchGd, FitAlgorithm::kLbfgs}) {
    options.algorithm = a;
    EXPECT_THAT(Fit(RegressionConfig(), data, options),
                StatusIs(absl::StatusCode::kCancelled))
        << FitAlgorithmName(a);
  }
}

TEST(FitAlgorithmsTest, WarmStartFromTheOptimumStaysThere) {
  const ExampleBatch data = Regression(1000, 7);
  absl::StatusOr<LinearModel> exact =
      FitWith(FitAlgorithm::kLeastSquares, data, RegressionConfig());
  ASSERT_THAT(exact, IsOk());
  FitOptions options;
  options.algorithm = FitAlgorithm::kFullBatchGd;
  options.max_iterations = 1;
  options.warm_start = &*exact;
  absl::StatusOr<LinearModel> warm = Fit(RegressionConfig(), data, options);
  ASSERT_THAT(warm, IsOk());
  EXPECT_LT((warm->RawFunction().weights - exact->RawFunction().weights).norm(),
            1e-6);
}

TEST(FitAlgorithmsTest, RejectsBadRequests) {
  ModelConfig binary;
  binary.task = Task::kBinary;
  binary.num_features = kFeatures;
  ExampleBatch data;
  data.num_features = kFeatures;
  data.Add(std::vector<float>(kFeatures, 1), 1);
  FitOptions options;
  options.algorithm = FitAlgorithm::kLeastSquares;
  EXPECT_THAT(Fit(binary, data, options),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::HasSubstr("regression")));
  ExampleBatch empty;
  empty.num_features = kFeatures;
  EXPECT_THAT(Fit(RegressionConfig(), empty, options),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseFitAlgorithm("newton"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace streamfit
