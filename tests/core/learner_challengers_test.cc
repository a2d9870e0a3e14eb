// The Learner's challengers: changes run between batches on the learner
// thread, every learner of the slot can learn every batch admitted, and a
// promotion serves the challenger from the version it was made at.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>

#include "core/learner.h"
#include "tests/testing/learner_harness.h"
#include "tests/testing/model_state.h"
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
  slow.serving = Serving::kLive;  // auto would serve the least-squares fit
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

// `n` samples that vary from one to the next.
ExampleBatch Stream(size_t n) {
  ExampleBatch batch;
  batch.num_features = kFeatures;
  for (size_t i = 0; i < n; ++i) {
    const double t = static_cast<double>(i);
    const float x[kFeatures] = {static_cast<float>(std::sin(t)),
                                static_cast<float>(std::cos(0.3 * t)), 1};
    batch.Add(x, 3 * x[0] - x[1] + 0.1 * std::sin(7 * t));
  }
  return batch;
}

ExampleBatch Slice(const ExampleBatch& stream, size_t begin, size_t end) {
  ExampleBatch part;
  part.num_features = kFeatures;
  for (size_t i = begin; i < end; ++i) {
    part.Add(stream.view(i), stream.labels[i], stream.weights[i]);
  }
  return part;
}

TEST(LearnerChallengersTest, AChallengerCaughtUpFromAnEarlierVersionJoins) {
  const ExampleBatch stream = Stream(1500);
  const ModelConfig adagrad = RegressionConfig(Optimizer::kAdagrad);
  // What the challenger is when it learns live from version 200 on.
  ModelSlot reference(NewModel(RegressionConfig()));
  reference.LearnBatch(stream, 0, 200);
  ASSERT_THAT(reference.AddChallenger("adagrad", adagrad), IsOk());
  reference.LearnBatch(stream, 200, 1500);

  Learner learner(NewModel(RegressionConfig()), {});
  for (size_t v = 0; v < 1000; v += 100) {
    ASSERT_THAT(Submit(learner, Slice(stream, v, v + 100)), IsOk());
  }
  WaitApplied(learner, 1000);
  // Caught up to 600 elsewhere; the learner thread replays the rest.
  ModelSlot caught_up(NewModel(RegressionConfig()));
  caught_up.LearnBatch(stream, 0, 200);
  caught_up.DisableAutomaticPromotion();
  ASSERT_THAT(caught_up.AddChallenger("adagrad", adagrad), IsOk());
  caught_up.LearnBatch(stream, 200, 600);
  uint64_t replayed_to = 0;
  QueuedResult joined;
  learner.JoinChallenger(
      std::move(caught_up), "adagrad",
      [&](ModelSlot& slot, uint64_t to_version) {
        replayed_to = to_version;
        slot.LearnBatch(stream, slot.version(), to_version);
        return absl::OkStatus();
      },
      joined.Callback());
  EXPECT_THAT(joined.Get(), IsOkAndHolds(uint64_t{1000}));
  EXPECT_EQ(replayed_to, 1000u);
  ASSERT_THAT(Submit(learner, Slice(stream, 1000, 1500)), IsOk());
  WaitApplied(learner, 1500);

  const auto slot = learner.CurrentSlot();
  ASSERT_NE(slot, nullptr);
  ASSERT_THAT(slot->challengers, SizeIs(1));
  const ChallengerState expected = reference.ChallengerStates()[0];
  ExpectIdenticalState(slot->challengers[0].model, expected.model);
  EXPECT_EQ(slot->challengers[0].record.start_version, 200u);
  EXPECT_EQ(slot->challengers[0].record.block_differences,
            expected.record.block_differences);
}

TEST(LearnerChallengersTest, AJoinFailsWithItsCatchUpAndChangesNothing) {
  Learner learner(NewModel(RegressionConfig()), {});
  ASSERT_THAT(Submit(learner, DenseBatch(10)), IsOk());
  WaitApplied(learner, 10);
  auto slot_at = [](uint64_t version) {
    ModelSlot slot(NewModel(RegressionConfig()));
    slot.LearnBatch(DenseBatch(version), 0, version);
    EXPECT_THAT(slot.AddChallenger("c", RegressionConfig()), IsOk());
    return slot;
  };
  QueuedResult ahead, failed;
  learner.JoinChallenger(
      slot_at(20), "c", [](ModelSlot&, uint64_t) { return absl::OkStatus(); },
      ahead.Callback());
  EXPECT_THAT(ahead.Get(), StatusIs(absl::StatusCode::kFailedPrecondition,
                                    HasSubstr("after the model's version")));
  learner.JoinChallenger(
      slot_at(5), "c",
      [](ModelSlot&, uint64_t) { return absl::DataLossError("log gone"); },
      failed.Callback());
  EXPECT_THAT(failed.Get(), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_EQ(learner.CurrentSlot(), nullptr);
}

}  // namespace
}  // namespace streamfit::testing
