#include "core/model_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "tests/testing/status_matchers.h"

namespace streamfit {
namespace {

using ::streamfit::testing::IsOk;
using ::streamfit::testing::StatusIs;
using ::testing::HasSubstr;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

ModelConfig Regression() {
  ModelConfig config;
  config.task = Task::kRegression;
  config.num_features = 3;
  return config;
}

TEST(ModelConfigTest, WithDefaultsFillsEveryUnsetSetting) {
  absl::StatusOr<ModelConfig> full = WithDefaults(Regression());
  ASSERT_THAT(full, IsOk());
  EXPECT_EQ(full->task, Task::kRegression);
  EXPECT_EQ(full->num_features, 3u);
  EXPECT_EQ(full->num_classes, 0u);
  EXPECT_EQ(full->schedule, Schedule::kInvScaling);
  ASSERT_TRUE(full->learning_rate.has_value());
  ASSERT_TRUE(full->power_t.has_value());
  ASSERT_TRUE(full->l2.has_value());
  EXPECT_GT(*full->learning_rate, 0);
  EXPECT_GT(*full->power_t, 0);
  EXPECT_GE(*full->l2, 0);
  EXPECT_TRUE(full->standardize);
}

TEST(ModelConfigTest, WithDefaultsKeepsExplicitSettings) {
  ModelConfig config = Regression();
  config.schedule = Schedule::kConstant;
  config.learning_rate = 0.125;
  config.power_t = 0.5;
  config.l2 = 0;
  config.standardize = false;
  config.optimizer = Optimizer::kAdam;
  config.loss = LossKind::kHuber;
  config.l1 = 0.5;
  config.ftrl_beta = 2;
  config.adam_beta1 = 0.5;
  config.adam_beta2 = 0.75;
  config.huber_delta = 3;
  config.quantile_tau = 0.25;
  config.max_gradient = 10;
  config.hash_bits = 20;
  config.interactions = {{"a", "b"}};
  absl::StatusOr<ModelConfig> full = WithDefaults(config);
  ASSERT_THAT(full, IsOk());
  EXPECT_EQ(*full, config);
}

TEST(ModelConfigTest, WithDefaultsIsIdempotent) {
  absl::StatusOr<ModelConfig> once = WithDefaults(Regression());
  ASSERT_THAT(once, IsOk());
  absl::StatusOr<ModelConfig> twice = WithDefaults(*once);
  ASSERT_THAT(twice, IsOk());
  EXPECT_EQ(*once, *twice);
}

TEST(ModelConfigTest, WithDefaultsAcceptsValidMulticlass) {
  ModelConfig config;
  config.task = Task::kMulticlass;
  config.num_features = 1;
  config.num_classes = 2;
  EXPECT_THAT(WithDefaults(config), IsOk());
  config.num_classes = kMaxClasses;
  EXPECT_THAT(WithDefaults(config), IsOk());
}

TEST(ModelConfigTest, WithDefaultsRejectsUnsetTask) {
  ModelConfig config = Regression();
  config.task = Task::kUnspecified;
  EXPECT_THAT(WithDefaults(config),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("task")));
}

TEST(ModelConfigTest, WithDefaultsRejectsZeroFeatures) {
  ModelConfig config = Regression();
  config.num_features = 0;
  EXPECT_THAT(WithDefaults(config), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr("num_features")));
}

TEST(ModelConfigTest, WithDefaultsRejectsTooManyFeatures) {
  ModelConfig config = Regression();
  config.num_features = kMaxFeatures;
  EXPECT_THAT(WithDefaults(config), IsOk());
  config.num_features = kMaxFeatures + 1;
  EXPECT_THAT(WithDefaults(config), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr("num_features")));
}

TEST(ModelConfigTest, WithDefaultsRejectsNumClassesWhenNotMulticlass) {
  for (Task task : {Task::kRegression, Task::kBinary}) {
    ModelConfig config = Regression();
    config.task = task;
    config.num_classes = 2;
    EXPECT_THAT(
        WithDefaults(config),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("num_classes")))
        << TaskName(task);
  }
}

TEST(ModelConfigTest, WithDefaultsRejectsFewerThanTwoClassesForMulticlass) {
  for (uint32_t classes : {0u, 1u, kMaxClasses + 1}) {
    ModelConfig config = Regression();
    config.task = Task::kMulticlass;
    config.num_classes = classes;
    EXPECT_THAT(
        WithDefaults(config),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("num_classes")))
        << classes << " classes";
  }
}

TEST(ModelConfigTest, WithDefaultsRejectsBadLearningRate) {
  for (double lr : {-0.1, 0.0, kNaN, kInf}) {
    ModelConfig config = Regression();
    config.learning_rate = lr;
    EXPECT_THAT(WithDefaults(config),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("learning_rate")))
        << "learning_rate " << lr;
  }
}

TEST(ModelConfigTest, WithDefaultsRejectsBadL2) {
  for (double l2 : {-1e-9, kNaN, -kInf, kInf}) {
    ModelConfig config = Regression();
    config.l2 = l2;
    EXPECT_THAT(WithDefaults(config),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("l2")))
        << "l2 " << l2;
  }
}

TEST(ModelConfigTest, WithDefaultsRejectsBadPowerT) {
  for (double power_t : {-0.5, kNaN}) {
    ModelConfig config = Regression();
    config.power_t = power_t;
    EXPECT_THAT(
        WithDefaults(config),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("power_t")))
        << "power_t " << power_t;
  }
}

TEST(ModelConfigTest, WithDefaultsAcceptsZeroL2) {
  ModelConfig config = Regression();
  config.l2 = 0;
  absl::StatusOr<ModelConfig> full = WithDefaults(config);
  ASSERT_THAT(full, IsOk());
  EXPECT_EQ(full->l2, 0.0);
}

TEST(ModelConfigTest, NumOutputsIsOneUnlessMulticlass) {
  ModelConfig config = Regression();
  EXPECT_EQ(NumOutputs(config), 1u);
  config.task = Task::kBinary;
  EXPECT_EQ(NumOutputs(config), 1u);
  config.task = Task::kMulticlass;
  config.num_classes = 7;
  EXPECT_EQ(NumOutputs(config), 7u);
}

TEST(ModelConfigTest, TaskNameNamesEveryTask) {
  EXPECT_EQ(TaskName(Task::kRegression), "regression");
  EXPECT_EQ(TaskName(Task::kBinary), "binary");
  EXPECT_EQ(TaskName(Task::kMulticlass), "multiclass");
  EXPECT_EQ(TaskName(Task::kUnspecified), "unspecified");
}

TEST(ModelConfigTest, DefaultsAreNormalizedUpdatesAndTheTasksLoss) {
  absl::StatusOr<ModelConfig> full = WithDefaults(Regression());
  ASSERT_THAT(full, IsOk());
  EXPECT_EQ(full->optimizer, Optimizer::kNormalized);
  EXPECT_EQ(full->loss, LossKind::kSquared);
  EXPECT_EQ(full->hash_bits, kDefaultHashBits);
  EXPECT_EQ(*full->l1, 0);
}

TEST(ModelConfigTest, WithDefaultsRejectsLossOfAnotherTask) {
  ModelConfig config = Regression();
  config.loss = LossKind::kHinge;
  EXPECT_THAT(WithDefaults(config),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("hinge does not fit regression")));
}

TEST(ModelConfigTest, WithDefaultsChecksSparseSettings) {
  ModelConfig config = Regression();
  config.hash_bits = kMaxHashBits + 1;
  EXPECT_THAT(WithDefaults(config), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr("hash_bits")));
  config = Regression();
  config.quantile_tau = 1;
  EXPECT_THAT(WithDefaults(config), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr("quantile_tau")));
  // A sparse-only model needs hash_bits set explicitly.
  config = Regression();
  config.num_features = 0;
  EXPECT_THAT(WithDefaults(config), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr("num_features")));
  config.hash_bits = 12;
  EXPECT_THAT(WithDefaults(config), IsOk());
}

TEST(ModelConfigTest, WithDefaultsChecksClassWeights) {
  ModelConfig config = Regression();
  config.task = Task::kBinary;
  config.class_weights = {1, 2, 3};
  EXPECT_THAT(WithDefaults(config), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr("class_weights")));
  config.class_weights = {1, -2};
  EXPECT_THAT(WithDefaults(config), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr("class_weights[1]")));
  config.class_weights = {1, 2};
  EXPECT_THAT(WithDefaults(config), IsOk());
}

}  // namespace
}  // namespace streamfit
