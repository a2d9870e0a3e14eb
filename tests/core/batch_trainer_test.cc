#include "core/batch_trainer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <new>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/data/csv_reader.h"
#include "core/model/loss.h"
#include "core/model/model_trainer.h"
#include "tests/testing/status_matchers.h"

namespace streamfit {
namespace {

using ::streamfit::testing::IsOk;
using ::streamfit::testing::StatusIs;
using ::testing::HasSubstr;

// The classic example: y = x0 + 1 = x1 - 1 (collinear features).
ExampleBatch FourPoints() {
  ExampleBatch batch;
  batch.num_features = 2;
  batch.Add(std::vector<float>{1, 2}, 2);
  batch.Add(std::vector<float>{2, 3}, 3);
  batch.Add(std::vector<float>{3, 4}, 4);
  batch.Add(std::vector<float>{4, 5}, 5);
  return batch;
}

ModelConfig FourPointConfig(bool standardize) {
  ModelConfig config;
  config.task = Task::kRegression;
  config.num_features = 2;
  config.l2 = 0;
  config.standardize = standardize;
  return config;
}

double Predict(const LinearModel& model, std::span<const float> x) {
  Prediction p;
  model.Predict(x, p);
  return p.value;
}

// Mean loss of `model` on `data` (log loss for classifiers).
double MeanLogLoss(const LinearModel& model, const ExampleBatch& data) {
  double total = 0;
  Prediction p;
  for (size_t i = 0; i < data.size(); ++i) {
    model.Predict(data.row(i), p);
    if (model.config().task == Task::kBinary) {
      const double q = data.labels[i] == 1 ? p.value : 1 - p.value;
      total -= std::log(std::max(q, 1e-300));
    } else {
      total -= std::log(
          std::max(p.scores[static_cast<int>(data.labels[i])], 1e-300));
    }
  }
  return total / data.size();
}

TEST(BatchTrainerTest, FullBatchGdFitsFourPointsExactly) {
  for (bool standardize : {true, false}) {
    SCOPED_TRACE(standardize ? "standardized" : "raw");
    const ExampleBatch data = FourPoints();
    absl::StatusOr<LinearModel> model =
        FitFullBatchGd(FourPointConfig(standardize), data);
    ASSERT_THAT(model, IsOk());
    EXPECT_EQ(model->version(), 0u);
    for (size_t i = 0; i < data.size(); ++i) {
      EXPECT_NEAR(Predict(*model, data.row(i)), data.labels[i], 1e-6)
          << "example " << i;
    }
    // Off the training points too: the fit is the line y = x0 + 1.
    EXPECT_NEAR(Predict(*model, std::vector<float>{10, 11}), 11, 1e-5);
  }
}

TEST(BatchTrainerTest, PerSampleSgdFitsFourPoints) {
  // Online SGD over many epochs reaches the same fit as full-batch GD.
  for (bool standardize : {true, false}) {
    SCOPED_TRACE(standardize ? "standardized" : "raw");
    ModelConfig config = FourPointConfig(standardize);
    config.optimizer = Optimizer::kSgd;
    config.schedule = Schedule::kConstant;
    config.learning_rate = 0.01;
    absl::StatusOr<ModelTrainer> trainer = ModelTrainer::Create(config);
    ASSERT_THAT(trainer, IsOk());
    const ExampleBatch data = FourPoints();
    for (int epoch = 0; epoch < 5000; ++epoch) trainer->LearnBatch(data);
    for (size_t i = 0; i < data.size(); ++i) {
      EXPECT_NEAR(Predict(trainer->model(), data.row(i)), data.labels[i], 1e-3)
          << "example " << i;
    }
  }
}

TEST(BatchTrainerTest, FullBatchGdRecoversTrueWeights) {
  const std::vector<double> true_w = {2.0, -3.0, 0.5};
  constexpr double kTrueBias = 4.0;
  std::mt19937 rng(17);
  std::normal_distribution<float> normal(0, 1);
  ExampleBatch data;
  data.num_features = 3;
  for (int i = 0; i < 200; ++i) {
    std::vector<float> x = {normal(rng) * 10 + 5, normal(rng),
                            normal(rng) * 0.1f};
    double y = kTrueBias;
    for (int j = 0; j < 3; ++j) y += true_w[j] * x[j];
    data.Add(x, y);
  }
  ModelConfig config;
  config.task = Task::kRegression;
  config.num_features = 3;
  config.l2 = 0;
  absl::StatusOr<LinearModel> model = FitFullBatchGd(config, data);
  ASSERT_THAT(model, IsOk());
  const RawLinearFunction f = model->RawFunction();
  for (int j = 0; j < 3; ++j) EXPECT_NEAR(f.weights(0, j), true_w[j], 1e-4);
  EXPECT_NEAR(f.bias[0], kTrueBias, 1e-4);
}

TEST(BatchTrainerTest, FullBatchGdReportsDecreasingObjective) {
  std::vector<double> objectives;
  FullBatchGdOptions options;
  options.max_iterations = 50;
  options.on_iteration = [&](int iteration, double objective) {
    EXPECT_EQ(iteration, static_cast<int>(objectives.size()) + 1);
    objectives.push_back(objective);
  };
  ASSERT_THAT(FitFullBatchGd(FourPointConfig(true), FourPoints(), options),
              IsOk());
  ASSERT_FALSE(objectives.empty());
  EXPECT_LE(objectives.size(), 50u);
  for (size_t i = 1; i < objectives.size(); ++i) {
    EXPECT_LE(objectives[i], objectives[i - 1]) << "iteration " << i + 1;
  }
}

TEST(BatchTrainerTest, FullBatchGdIsDeterministic) {
  absl::StatusOr<ExampleBatch> data = ReadCsvFile(
      std::string(STREAMFIT_SOURCE_DIR) + "/tests/data/diabetes.reg.csv");
  ASSERT_THAT(data, IsOk());
  ModelConfig config;
  config.task = Task::kRegression;
  config.num_features = 10;
  FullBatchGdOptions options;
  options.max_iterations = 100;
  absl::StatusOr<LinearModel> a = FitFullBatchGd(config, *data, options);
  absl::StatusOr<LinearModel> b = FitFullBatchGd(config, *data, options);
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  const std::vector<NamedTensor> sa = a->ExportState(), sb = b->ExportState();
  ASSERT_EQ(sa.size(), sb.size());
  for (size_t i = 0; i < sa.size(); ++i) {
    EXPECT_EQ(sa[i].values, sb[i].values) << sa[i].name;
  }
}

TEST(BatchTrainerTest, FullBatchGdFitsBreastCancerToLowLoss) {
  absl::StatusOr<ExampleBatch> data = ReadCsvFile(
      std::string(STREAMFIT_SOURCE_DIR) + "/tests/data/breast_cancer.bin.csv");
  ASSERT_THAT(data, IsOk());
  ModelConfig config;
  config.task = Task::kBinary;
  config.num_features = data->num_features;
  config.l2 = 1e-3;
  FullBatchGdOptions options;
  options.max_iterations = 500;
  absl::StatusOr<LinearModel> model = FitFullBatchGd(config, *data, options);
  ASSERT_THAT(model, IsOk());
  // The constant predictor's log loss is about 0.66 here.
  EXPECT_LT(MeanLogLoss(*model, *data), 0.1);
}

TEST(BatchTrainerTest, FullBatchGdFitsDigitsToLowLoss) {
  absl::StatusOr<ExampleBatch> data = ReadCsvFile(
      std::string(STREAMFIT_SOURCE_DIR) + "/tests/data/digits.multi10.csv");
  ASSERT_THAT(data, IsOk());
  ModelConfig config;
  config.task = Task::kMulticlass;
  config.num_features = data->num_features;
  config.num_classes = 10;
  config.l2 = 1e-3;
  FullBatchGdOptions options;
  options.max_iterations = 100;
  absl::StatusOr<LinearModel> model = FitFullBatchGd(config, *data, options);
  ASSERT_THAT(model, IsOk());
  // The uniform predictor's log loss is log(10) = 2.3.
  EXPECT_LT(MeanLogLoss(*model, *data), 0.15);
  int correct = 0;
  Prediction p;
  for (size_t i = 0; i < data->size(); ++i) {
    model->Predict(data->row(i), p);
    correct += p.value == data->labels[i];
  }
  EXPECT_GT(correct, 0.95 * data->size());
}

TEST(BatchTrainerTest, FullBatchGdRejectsInvalidData) {
  ExampleBatch data = FourPoints();
  data.values[3] = std::nanf("");
  EXPECT_THAT(
      FitFullBatchGd(FourPointConfig(true), data),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("example 1")));

  ModelConfig binary = FourPointConfig(true);
  binary.task = Task::kBinary;
  EXPECT_THAT(FitFullBatchGd(binary, FourPoints()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("label")));
}

TEST(BatchTrainerTest, FullBatchGdRejectsEmptyData) {
  ExampleBatch empty;
  empty.num_features = 2;
  EXPECT_THAT(FitFullBatchGd(FourPointConfig(true), empty),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(BatchTrainerTest, FullBatchGdRejectsAllZeroWeights) {
  ExampleBatch data = FourPoints();
  for (float& w : data.weights) w = 0;
  EXPECT_THAT(FitFullBatchGd(FourPointConfig(true), data),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(BatchTrainerTest, FullBatchGdRejectsInvalidConfig) {
  ModelConfig config = FourPointConfig(true);
  config.num_features = 0;
  EXPECT_THAT(
      FitFullBatchGd(config, FourPoints()),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("num_features")));
}

TEST(BatchTrainerTest, LbfgsPassesTheObjectivesExceptionToTheCaller) {
  // A failure inside the objective (here its progress callback) is not a
  // line search giving up: the fit must not report success.
  FitOptions options;
  options.algorithm = FitAlgorithm::kLbfgs;
  int reports = 0;
  options.on_progress = [&](const FitProgress&) {
    if (++reports == 2) throw std::runtime_error("progress sink failed");
  };
  EXPECT_THROW(
      static_cast<void>(Fit(FourPointConfig(true), FourPoints(), options)),
      std::runtime_error);
  EXPECT_EQ(reports, 2);
  options.on_progress = [](const FitProgress&) { throw std::bad_alloc(); };
  EXPECT_THROW(
      static_cast<void>(Fit(FourPointConfig(true), FourPoints(), options)),
      std::bad_alloc);
}

TEST(BatchTrainerTest, EveryAlgorithmRejectsANegativeTolerance) {
  for (FitAlgorithm a :
       {FitAlgorithm::kFullBatchGd, FitAlgorithm::kMinibatchSgd,
        FitAlgorithm::kLeastSquares, FitAlgorithm::kLbfgs}) {
    FitOptions options;
    options.algorithm = a;
    options.tolerance = -1;
    EXPECT_THAT(
        Fit(FourPointConfig(true), FourPoints(), options),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("tolerance")))
        << FitAlgorithmName(a);
  }
}

}  // namespace
}  // namespace streamfit
