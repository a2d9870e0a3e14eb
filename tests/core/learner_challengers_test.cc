// The Learner's challengers: changes run between batches on the learner
// thread, every learner of the slot can learn every batch admitted, and a
// promotion serves the challenger from the version it was made at.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <random>

#include "core/learner.h"
#include "tests/testing/learner_harness.h"
#include "tests/testing/status_matchers.h"

namespace streamfit::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

ModelConfig RegressionConfig(Optimizer optimizer = Optimizer::kUnspecified) {
  ModelConfig config;
  config.task = Task::kRegression;
  config.num_features = kFeatures;
  config.optimizer = optimizer;
  return config;
}

ExampleBatch DenseBatch(size_t n) {
  ExampleBatch batch;
  batch.num_features = kFeatures;
  for (size_t i = 0; i < n; ++i) {
    const float x[kFeatures] = {static_cast<float>(i), 1, -1};
    batch.Add(x, 2.0 * i + 1);
  }
  return batch;
}

// One example with a hashed feature, which rls does not learn.
ExampleBatch SparseBatch() {
  ExampleBatch batch;
  batch.num_features = kFeatures;
  const float x[kFeatures] = {1, 2, 3};
  const uint32_t hash = 7, ns = 0;
  const float value = 1;
  batch.Add(ExampleView{x, {&hash, 1}, {&ns, 1}, {&value, 1}}, 1.0);
  return batch;
}

void WaitApplied(Learner& learner, uint64_t version) {
  StateResult applied;
  learner.WhenVersion(version, applied.Callback());
  ASSERT_THAT(applied.Get(), IsOk());
}

absl::StatusOr<uint64_t> Submit(Learner& learner, ExampleBatch batch) {
  QueuedResult queued;
  learner.Submit(std::move(batch), queued.Callback());
  return queued.Get();
}

TEST(LearnerChallengersTest, AdmitsOnlyWhatEveryLearnerOfTheSlotCanLearn) {
  Learner learner(NewModel(RegressionConfig()), {});
  ASSERT_THAT(Submit(learner, SparseBatch()), IsOk());
  WaitApplied(learner, 1);
  QueuedResult added;
  learner.AddChallenger("rls", RegressionConfig(Optimizer::kRls),
                        added.Callback());
  EXPECT_THAT(added.Get(), IsOkAndHolds(uint64_t{1}));
  EXPECT_THAT(Submit(learner, DenseBatch(8)), IsOkAndHolds(uint64_t{9}));
  EXPECT_THAT(Submit(learner, SparseBatch()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("challenger 'rls' cannot learn it")));

  WaitApplied(learner, 9);
  Result<absl::StatusOr<Promotion>> promoted;
  learner.PromoteChallenger("rls", promoted.Callback());
  const absl::StatusOr<Promotion> promotion = promoted.Get();
  ASSERT_THAT(promotion, IsOk());
  EXPECT_EQ(promotion->version, 9u);
  EXPECT_EQ(learner.Current()->config().optimizer, Optimizer::kRls);
  EXPECT_EQ(learner.Current()->version(), 9u);
  // The promoted rls now serves, so sparse features stay refused.
  EXPECT_THAT(Submit(learner, SparseBatch()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("the model's current config")));
  EXPECT_THAT(Submit(learner, DenseBatch(4)), IsOkAndHolds(uint64_t{13}));
}

TEST(LearnerChallengersTest, RemovingTheOnlyStrictLearnerAdmitsAgain) {
  Learner learner(NewModel(RegressionConfig()), {});
  QueuedResult added, removed;
  learner.AddChallenger("rls", RegressionConfig(Optimizer::kRls),
                        added.Callback());
  ASSERT_THAT(added.Get(), IsOk());
  QueuedResult again;  // refused, and the first one stays
  learner.AddChallenger("rls", RegressionConfig(), again.Callback());
  EXPECT_THAT(again.Get(), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(Submit(learner, SparseBatch()),
              StatusIs(absl::StatusCode::kInvalidArgument));
  learner.RemoveChallenger("rls", removed.Callback());
  ASSERT_THAT(removed.Get(), IsOk());
  EXPECT_THAT(Submit(learner, SparseBatch()), IsOkAndHolds(uint64_t{1}));
  EXPECT_EQ(learner.CurrentSlot(), nullptr);
}

TEST(LearnerChallengersTest, AChallengerThatCannotLearnAQueuedBatchIsRefused) {
  Learner learner(NewModel(RegressionConfig()), {});
  LearnerBlocker blocker(learner, 8);
  ASSERT_THAT(Submit(learner, DenseBatch(8)), IsOk());
  ASSERT_TRUE(blocker.WaitUntilBlocked());
  ASSERT_THAT(Submit(learner, SparseBatch()), IsOkAndHolds(uint64_t{9}));
  QueuedResult refused;
  learner.AddChallenger("rls", RegressionConfig(Optimizer::kRls),
                        refused.Callback());
  blocker.Release();
  EXPECT_THAT(refused.Get(), StatusIs(absl::StatusCode::kFailedPrecondition,
                                      HasSubstr("already queued")));
  // Once it is learned, the challenger joins.
  WaitApplied(learner, 9);
  QueuedResult added;
  learner.AddChallenger("rls", RegressionConfig(Optimizer::kRls),
                        added.Callback());
  EXPECT_THAT(added.Get(), IsOkAndHolds(uint64_t{9}));
  ASSERT_NE(learner.CurrentSlot(), nullptr);
  EXPECT_THAT(learner.CurrentSlot()->challengers, SizeIs(1));
}

TEST(LearnerChallengersTest, ThePolicysPromotionsAreKeptForTheServer) {
  ModelConfig slow = RegressionConfig(Optimizer::kSgd);
  slow.schedule = Schedule::kConstant;
  slow.learning_rate = 1e-6;
  slow.policies.promote_confidence = 0.99;
  slow.policies.promote_window = 256;
  Learner learner(NewModel(slow), {});
  QueuedResult added;
  learner.AddChallenger("fast", RegressionConfig(), added.Callback());
  ASSERT_THAT(added.Get(), IsOk());
  for (int i = 0; i < 20; ++i)
    ASSERT_THAT(Submit(learner, DenseBatch(64)), IsOk());
  WaitApplied(learner, 20 * 64);
  const std::vector<Promotion> promotions = learner.TakePromotions();
  ASSERT_THAT(promotions, SizeIs(1));
  EXPECT_TRUE(promotions[0].automatic);
  EXPECT_EQ(promotions[0].name, "fast");
  EXPECT_EQ(promotions[0].version % ModelSlot::kBlock, 0u);
  EXPECT_EQ(learner.Current()->config().optimizer, Optimizer::kNormalized);
  EXPECT_THAT(learner.TakePromotions(), SizeIs(0));
}

}  // namespace
}  // namespace streamfit::testing
