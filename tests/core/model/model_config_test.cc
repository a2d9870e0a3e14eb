#include "core/model/model_config.h"

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
  EXPECT_EQ(full->drift_detector, DriftDetectorKind::kAdwin);
  EXPECT_EQ(full->drift_policy, DriftPolicy::kAlert);
}

TEST(ModelConfigTest, WithDefaultsRefusesUnknownDriftSettings) {
  ModelConfig config = Regression();
  config.drift_detector = static_cast<DriftDetectorKind>(99);
  EXPECT_THAT(WithDefaults(config), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr("drift_detector")));
  config = Regression();
  config.drift_policy = static_cast<DriftPolicy>(-1);
  EXPECT_THAT(WithDefaults(config), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr("drift_policy")));
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
  config.drift_detector = DriftDetectorKind::kPageHinkley;
  config.drift_policy = DriftPolicy::kReset;
  config.serving = Serving::kLive;
  config.policies = {.retrain_samples = 7,
                     .retrain_dataset = "d",
                     .batch_gap_every = 100,
                     .batch_gap_window = 50,
                     .batch_gap_retrain_ratio = 1.5,
                     .promote_confidence = 0.99,
                     .promote_window = 2048};
  absl::StatusOr<ModelConfig> full = WithDefaults(config);
  ASSERT_THAT(full, IsOk());
  EXPECT_EQ(*full, config);
}

TEST(ModelConfigTest, PolicyWindowsDefaultAndTheGapRatioIsAtLeastOne) {
  ModelConfig config;
  config.task = Task::kRegression;
  config.num_features = 2;
  absl::StatusOr<ModelConfig> full = WithDefaults(config);
  ASSERT_THAT(full, IsOk());
  EXPECT_EQ(full->policies.retrain_samples, kDefaultRecentSamples);
  EXPECT_EQ(full->policies.batch_gap_window, kDefaultRecentSamples);
  EXPECT_EQ(full->policies.batch_gap_every, 0u);
  EXPECT_EQ(full->policies.promote_window, kDefaultRecentSamples);
  EXPECT_EQ(full->policies.promote_confidence, 0);
  for (const double confidence : {0.4, 1.0, -0.5, double{NAN}}) {
    ModelConfig bad = config;
    bad.policies.promote_confidence = confidence;
    EXPECT_THAT(WithDefaults(bad).status(),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("promote_confidence")));
  }
  ModelConfig long_window = config;
  long_window.policies.promote_window = kMaxPromoteWindow + 1;
  EXPECT_THAT(WithDefaults(long_window).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("promote_window")));
  for (const double ratio : {0.5, -1.0, double{NAN}, double{INFINITY}}) {
    config.policies.batch_gap_retrain_ratio = ratio;
    EXPECT_THAT(WithDefaults(config).status(),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("batch_gap_retrain_ratio")));
  }
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

TEST(ModelConfigTest, ABinaryClassifierOfHashedFeaturesAloneDefaultsToFtrl) {
  ModelConfig sparse;
  sparse.task = Task::kBinary;
  sparse.num_features = 0;
  sparse.hash_bits = 12;
  absl::StatusOr<ModelConfig> full = WithDefaults(sparse);
  ASSERT_THAT(full, IsOk());
  EXPECT_EQ(full->optimizer, Optimizer::kFtrl);
  EXPECT_EQ(*full->learning_rate, 0.2);
  // An explicit rate or rule is kept.
  ModelConfig config = sparse;
  config.learning_rate = 0.05;
  EXPECT_EQ(*WithDefaults(config)->learning_rate, 0.05);
  config = sparse;
  config.optimizer = Optimizer::kNormalized;
  EXPECT_EQ(*WithDefaults(config)->learning_rate, 0.5);
  // Dense features, a regression or several classes: the normalized rule.
  config = sparse;
  config.num_features = 3;
  EXPECT_EQ(WithDefaults(config)->optimizer, Optimizer::kNormalized);
  config = sparse;
  config.task = Task::kRegression;
  EXPECT_EQ(WithDefaults(config)->optimizer, Optimizer::kNormalized);
  config = sparse;
  config.task = Task::kMulticlass;
  config.num_classes = 3;
  EXPECT_EQ(WithDefaults(config)->optimizer, Optimizer::kNormalized);
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

TEST(ModelConfigTest, WithDefaultsRefusesEnumValuesOutOfRange) {
  ModelConfig task = Regression();
  task.task = static_cast<Task>(99);
  EXPECT_THAT(WithDefaults(task), StatusIs(absl::StatusCode::kInvalidArgument,
                                           HasSubstr("config.task 99")));
  ModelConfig optimizer = Regression();
  optimizer.optimizer = static_cast<Optimizer>(7);
  EXPECT_THAT(WithDefaults(optimizer),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("config.optimizer 7")));
  ModelConfig loss = Regression();
  loss.loss = static_cast<LossKind>(-1);
  EXPECT_THAT(WithDefaults(loss), StatusIs(absl::StatusCode::kInvalidArgument,
                                           HasSubstr("config.loss -1")));
  ModelConfig schedule = Regression();
  schedule.schedule = static_cast<Schedule>(3);
  EXPECT_THAT(WithDefaults(schedule),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("config.schedule 3")));
}

TEST(ModelConfigTest, WithDefaultsBoundsTheInteractions) {
  ModelConfig many = Regression();
  many.interactions.assign(kMaxInteractions + 1, {"a", "b"});
  EXPECT_THAT(WithDefaults(many), StatusIs(absl::StatusCode::kInvalidArgument,
                                           HasSubstr("config.interactions")));
  ModelConfig long_name = Regression();
  long_name.interactions = {{std::string(kMaxNamespaceBytes + 1, 'a'), ""}};
  EXPECT_THAT(WithDefaults(long_name),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("config.interactions[0]")));
}

TEST(ModelConfigTest, ModelStateBytesCountsDensePlanesTableAndStatistics) {
  ModelConfig config;
  config.task = Task::kMulticlass;
  config.num_classes = 4096;
  config.num_features = 16384;
  absl::StatusOr<ModelConfig> full = WithDefaults(config);
  ASSERT_THAT(full, IsOk());
  // 3 values per class and dense coordinate, 3 per class and hashed slot
  // (2^12: the default keeps classes * slots within 2^24), 3 per feature;
  // and the averaging accumulators (serving auto): 1 per class and dense
  // coordinate and 1 per class and hashed slot.
  EXPECT_EQ(full->hash_bits, 12u);
  EXPECT_EQ(ModelStateBytes(*full),
            8 * (3ull * 4096 * 16385 + 3ull * 4096 * 4096 + 3ull * 16384 +
                 4096ull * 16385 + 4096ull * 4096));
  ModelConfig live = *full;
  live.serving = Serving::kLive;
  EXPECT_EQ(ModelStateBytes(live),
            8 * (3ull * 4096 * 16385 + 3ull * 4096 * 4096 + 3ull * 16384));
  EXPECT_GT(ModelStateBytes(*full), uint64_t{1} << 30);
}

TEST(ModelConfigTest, SameShapeComparesTaskFeaturesClassesAndHashing) {
  const ModelConfig a = *WithDefaults(Regression());
  ModelConfig b = a;
  b.learning_rate = 0.01;  // settings are not shape
  EXPECT_TRUE(SameShape(a, b));
  b.num_features = 4;
  EXPECT_FALSE(SameShape(a, b));
  b = a;
  b.interactions = {{"u", "i"}};
  EXPECT_FALSE(SameShape(a, b));
  EXPECT_EQ(DescribeShape(a),
            "regression, 3 features, hash_bits 18, "
            "no interactions");
  EXPECT_EQ(DescribeShape(b),
            "regression, 3 features, hash_bits 18, "
            "interactions 'u'x'i'");
}

}  // namespace
}  // namespace streamfit
