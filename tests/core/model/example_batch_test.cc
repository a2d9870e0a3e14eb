#include "core/model/example_batch.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>
#include <vector>

#include "core/model/feature_hash.h"
#include "tests/testing/status_matchers.h"

namespace streamfit {
namespace {

using ::streamfit::testing::IsOk;
using ::streamfit::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr float kNaNf = std::numeric_limits<float>::quiet_NaN();
constexpr float kInff = std::numeric_limits<float>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

ModelConfig Config(Task task, uint32_t num_classes = 0) {
  ModelConfig config;
  config.task = task;
  config.num_features = 2;
  config.num_classes = num_classes;
  return config;
}

// Three valid examples for any task with 2 features (labels 0, 1, 1).
ExampleBatch ValidBatch() {
  ExampleBatch batch;
  batch.num_features = 2;
  batch.Add(std::vector<float>{1, 2}, 0);
  batch.Add(std::vector<float>{-3, 0.5}, 1);
  batch.Add(std::vector<float>{0, 1e6}, 1, 2.5);
  return batch;
}

TEST(ExampleBatchTest, AddAppendsRowLabelAndWeight) {
  ExampleBatch batch = ValidBatch();
  ASSERT_EQ(batch.size(), 3u);
  EXPECT_THAT(batch.values, ElementsAre(1, 2, -3, 0.5, 0, 1e6));
  EXPECT_THAT(batch.labels, ElementsAre(0, 1, 1));
  EXPECT_THAT(batch.weights, ElementsAre(1, 1, 2.5));
  EXPECT_THAT(batch.row(1), ElementsAre(-3, 0.5));
}

TEST(ExampleBatchTest, ValidateBatchAcceptsValidBatchForEveryTask) {
  EXPECT_THAT(ValidateBatch(ValidBatch(), Config(Task::kRegression)), IsOk());
  EXPECT_THAT(ValidateBatch(ValidBatch(), Config(Task::kBinary)), IsOk());
  EXPECT_THAT(ValidateBatch(ValidBatch(), Config(Task::kMulticlass, 2)),
              IsOk());
}

TEST(ExampleBatchTest, ValidateBatchAcceptsEmptyBatch) {
  ExampleBatch batch;
  batch.num_features = 2;
  EXPECT_THAT(ValidateBatch(batch, Config(Task::kRegression)), IsOk());
}

TEST(ExampleBatchTest, ValidateBatchAcceptsZeroWeight) {
  ExampleBatch batch = ValidBatch();
  batch.weights[1] = 0;
  EXPECT_THAT(ValidateBatch(batch, Config(Task::kBinary)), IsOk());
}

TEST(ExampleBatchTest, ValidateBatchRejectsNaNFeatureNamingExampleAndIndex) {
  ExampleBatch batch = ValidBatch();
  batch.values[2 * 2 + 1] = kNaNf;  // example 2, dense[1]
  EXPECT_THAT(ValidateBatch(batch, Config(Task::kRegression)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("example 2"), HasSubstr("dense[1]"),
                             HasSubstr("NaN"))));
}

TEST(ExampleBatchTest, ValidateBatchRejectsInfFeatureNamingExampleAndIndex) {
  ExampleBatch batch = ValidBatch();
  batch.values[2 * 2 + 1] = -kInff;
  EXPECT_THAT(ValidateBatch(batch, Config(Task::kRegression)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("example 2"), HasSubstr("dense[1]"),
                             HasSubstr("inf"))));
}

TEST(ExampleBatchTest, ValidateBatchNamesTheFirstBadExample) {
  ExampleBatch batch = ValidBatch();
  batch.values[1 * 2 + 0] = kInff;
  batch.values[2 * 2 + 1] = kNaNf;
  EXPECT_THAT(ValidateBatch(batch, Config(Task::kRegression)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("example 1"), HasSubstr("dense[0]"))));
}

TEST(ExampleBatchTest, ValidateBatchRejectsWrongFeatureCount) {
  ExampleBatch batch;
  batch.num_features = 3;
  batch.Add(std::vector<float>{1, 2, 3}, 0);
  EXPECT_THAT(ValidateBatch(batch, Config(Task::kRegression)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("example 0"), HasSubstr("3 values"))));
}

TEST(ExampleBatchTest, ValidateBatchRejectsInconsistentSizes) {
  ExampleBatch batch = ValidBatch();
  batch.values.pop_back();
  EXPECT_THAT(ValidateBatch(batch, Config(Task::kRegression)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  batch = ValidBatch();
  batch.weights.pop_back();
  EXPECT_THAT(ValidateBatch(batch, Config(Task::kRegression)),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ExampleBatchTest, ValidateBatchRejectsLabelTwoForBinary) {
  ExampleBatch batch = ValidBatch();
  batch.labels[1] = 2;
  EXPECT_THAT(ValidateBatch(batch, Config(Task::kBinary)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("example 1"), HasSubstr("label"))));
  // The same batch is fine for regression.
  EXPECT_THAT(ValidateBatch(batch, Config(Task::kRegression)), IsOk());
}

TEST(ExampleBatchTest, ValidateBatchRejectsFractionalLabelForBinary) {
  ExampleBatch batch = ValidBatch();
  batch.labels[0] = 0.5;
  EXPECT_THAT(ValidateBatch(batch, Config(Task::kBinary)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("example 0"), HasSubstr("label"))));
}

TEST(ExampleBatchTest, ValidateBatchRejectsClassOutOfRangeForMulticlass) {
  for (double label : {3.0, -1.0, 100.0}) {
    ExampleBatch batch = ValidBatch();
    batch.labels[2] = label;
    EXPECT_THAT(ValidateBatch(batch, Config(Task::kMulticlass, 3)),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         AllOf(HasSubstr("example 2"), HasSubstr("label"))))
        << "label " << label;
  }
  ExampleBatch batch = ValidBatch();
  batch.labels[2] = 2;
  EXPECT_THAT(ValidateBatch(batch, Config(Task::kMulticlass, 3)), IsOk());
}

TEST(ExampleBatchTest, ValidateBatchRejectsNonIntegerClassForMulticlass) {
  ExampleBatch batch = ValidBatch();
  batch.labels[1] = 1.5;
  EXPECT_THAT(ValidateBatch(batch, Config(Task::kMulticlass, 3)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("example 1"), HasSubstr("label"))));
}

TEST(ExampleBatchTest, ValidateBatchRejectsNaNLabelForEveryTask) {
  for (const ModelConfig& config :
       {Config(Task::kRegression), Config(Task::kBinary),
        Config(Task::kMulticlass, 3)}) {
    ExampleBatch batch = ValidBatch();
    batch.labels[1] = kNaN;
    EXPECT_THAT(ValidateBatch(batch, config),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         AllOf(HasSubstr("example 1"), HasSubstr("label"))))
        << TaskName(config.task);
  }
}

TEST(ExampleBatchTest, ValidateBatchRejectsInfiniteLabelForRegression) {
  ExampleBatch batch = ValidBatch();
  batch.labels[0] = std::numeric_limits<double>::infinity();
  EXPECT_THAT(ValidateBatch(batch, Config(Task::kRegression)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("example 0"), HasSubstr("label"))));
}

TEST(ExampleBatchTest, ValidateBatchRejectsNegativeWeight) {
  ExampleBatch batch = ValidBatch();
  batch.weights[2] = -1;
  EXPECT_THAT(ValidateBatch(batch, Config(Task::kRegression)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("example 2"), HasSubstr("weight"))));
}

TEST(ExampleBatchTest, ValidateBatchRejectsNaNWeight) {
  ExampleBatch batch = ValidBatch();
  batch.weights[0] = kNaNf;
  EXPECT_THAT(ValidateBatch(batch, Config(Task::kRegression)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("example 0"), HasSubstr("weight"))));
}

TEST(ExampleBatchTest, ValidateFeaturesNamesIndexAndCoordinate) {
  const ModelConfig config = Config(Task::kRegression);
  EXPECT_THAT(ValidateFeatures(std::vector<float>{1, 2}, config, 0), IsOk());
  EXPECT_THAT(ValidateFeatures(std::vector<float>{1, kInff}, config, 3),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("features 3"), HasSubstr("dense[1]"),
                             HasSubstr("inf"))));
  EXPECT_THAT(
      ValidateFeatures(std::vector<float>{1}, config, 5),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("features 5")));
}

TEST(ExampleBatchTest, ValidateBatchRefusesValuesBeyondTheLimit) {
  ExampleBatch labels = ValidBatch();
  labels.labels[1] = 1e308;  // finite, but its square overflows
  EXPECT_THAT(
      ValidateBatch(labels, Config(Task::kRegression)),
      StatusIs(absl::StatusCode::kInvalidArgument,
               AllOf(HasSubstr("example 1: label 1e+308"), HasSubstr("1e18"))));
  labels.labels[1] = -1e19;
  EXPECT_THAT(ValidateBatch(labels, Config(Task::kRegression)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("example 1: label")));
  labels.labels[1] = kMaxAbsValue;  // the limit itself is allowed
  EXPECT_THAT(ValidateBatch(labels, Config(Task::kRegression)), IsOk());

  ExampleBatch features = ValidBatch();
  features.values[5] = 3e38f;
  EXPECT_THAT(ValidateBatch(features, Config(Task::kRegression)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("example 2: features.dense[1] is 3e+38")));
  ExampleBatch weights = ValidBatch();
  weights.weights[0] = 1e30f;
  EXPECT_THAT(ValidateBatch(weights, Config(Task::kRegression)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("example 0: weight")));
}

// One example with `n` sparse features in namespace `ns`.
ExampleBatch SparseExample(uint32_t n, uint32_t ns, float value = 1) {
  ExampleBatch batch;
  batch.num_features = 2;
  for (uint32_t f = 0; f < n; ++f) batch.AddSparse(f, ns, value);
  batch.Add(std::vector<float>{0, 0}, 1);
  return batch;
}

TEST(ExampleBatchTest, ValidateBatchBoundsTheInteractionPairsOfAnExample) {
  ModelConfig config = Config(Task::kRegression);
  config.interactions = {{"", ""}};
  const uint32_t ns = HashNamespace("");
  // 6,000 features paired with each other: 17,997,000 pairs.
  EXPECT_THAT(ValidateBatch(SparseExample(6000, ns), config),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("example 0: 6000 sparse features"),
                             HasSubstr("18003000 hashed coordinates"))));
  // 361 features: 361 + 361 * 360 / 2 = 65,341 coordinates, within 65,536.
  EXPECT_EQ(HashedCoordinates(SparseExample(361, ns).view(0), config), 65341u);
  EXPECT_THAT(ValidateBatch(SparseExample(361, ns), config), IsOk());
  // 362: 65,703, over.
  EXPECT_THAT(ValidateBatch(SparseExample(362, ns), config),
              StatusIs(absl::StatusCode::kInvalidArgument));
  // Without interactions, as many features as the limit.
  EXPECT_THAT(ValidateBatch(SparseExample(kMaxExampleCoordinates, ns),
                            Config(Task::kRegression)),
              IsOk());
  EXPECT_THAT(ValidateBatch(SparseExample(kMaxExampleCoordinates + 1, ns),
                            Config(Task::kRegression)),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ExampleBatchTest, ValidateBatchBoundsCoordinatesTimesOutputs) {
  ModelConfig config = Config(Task::kMulticlass, 4096);
  const uint32_t ns = HashNamespace("");
  // 4,194,304 / 4,096 outputs = 1,024 coordinates per example.
  EXPECT_THAT(ValidateBatch(SparseExample(1024, ns), config), IsOk());
  EXPECT_THAT(ValidateBatch(SparseExample(1025, ns), config),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("the limit is 1024")));
}

TEST(ExampleBatchTest, ValidateBatchNamesPackedRowsByTheirDenseBatchFields) {
  ExampleBatch batch = ValidBatch();  // rows 1 and 2 came packed
  batch.values[5] = kNaNf;
  EXPECT_THAT(ValidateBatch(batch, Config(Task::kRegression), 1),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("example 2: dense_batch.values[3] is NaN")));
  batch = ValidBatch();
  batch.labels[2] = 7;
  EXPECT_THAT(ValidateBatch(batch, Config(Task::kBinary), 1),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("example 2: dense_batch.labels[1] 7")));
  batch = ValidBatch();
  batch.weights[1] = -1;
  EXPECT_THAT(ValidateBatch(batch, Config(Task::kRegression), 1),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("example 1: dense_batch.weights[0] -1")));
}

}  // namespace
}  // namespace streamfit
