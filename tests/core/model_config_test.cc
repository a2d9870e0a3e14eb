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

}  // namespace
}  // namespace streamfit
