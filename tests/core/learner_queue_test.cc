// Learner admission and shutdown: the bounded queue, stopping, and version
// waiters that are answered, aborted or cancelled.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/learner.h"
#include "core/model/model_trainer.h"
#include "tests/testing/learner_harness.h"
#include "tests/testing/model_state.h"
#include "tests/testing/status_matchers.h"

namespace streamfit {
namespace {

using ::streamfit::testing::ExpectIdenticalState;
using ::streamfit::testing::IsOk;
using ::streamfit::testing::IsOkAndHolds;
using ::streamfit::testing::LearnerBlocker;
using ::streamfit::testing::NewModel;
using ::streamfit::testing::QueuedResult;
using ::streamfit::testing::RandomBatch;
using ::streamfit::testing::StateOr;
using ::streamfit::testing::StateResult;
using ::streamfit::testing::StatusIs;

TEST(LearnerTest, SubmitParksWhenQueueIsFullAndAdmitsLater) {
  Learner learner(NewModel(), {.queue_capacity = 4, .publish_every = 1});
  LearnerBlocker blocker(learner, 1);
  std::mt19937 rng(4);
  const ExampleBatch a = RandomBatch(1, rng), b = RandomBatch(4, rng),
                     c = RandomBatch(1, rng), d = RandomBatch(2, rng);

  QueuedResult qa, qb, qc, qd;
  learner.Submit(a, qa.Callback());
  ASSERT_TRUE(qa.called());
  EXPECT_THAT(qa.Get(), IsOkAndHolds(1u));
  // The learner applies `a`, publishes version 1 and blocks there.
  ASSERT_TRUE(blocker.WaitUntilBlocked());

  learner.Submit(b, qb.Callback());  // the queue is empty: room for 4
  ASSERT_TRUE(qb.called());
  EXPECT_THAT(qb.Get(), IsOkAndHolds(5u));
  learner.Submit(c, qc.Callback());  // 4 + 1 > 4: parks
  learner.Submit(d, qd.Callback());  // parks behind c
  EXPECT_FALSE(qc.called());
  EXPECT_FALSE(qd.called());
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_FALSE(qc.called());
  EXPECT_FALSE(qd.called());

  blocker.Release();
  EXPECT_THAT(qc.Get(), IsOkAndHolds(6u));
  EXPECT_THAT(qd.Get(), IsOkAndHolds(8u));
  // Admitted later, on the learner thread.
  EXPECT_NE(qc.thread(), std::this_thread::get_id());
  EXPECT_NE(qd.thread(), std::this_thread::get_id());

  StateResult state;
  learner.WhenVersion(8, state.Callback());
  ASSERT_THAT(state.Get(), IsOk());
  ModelTrainer offline_trainer(NewModel());
  const LinearModel& offline = offline_trainer.model();
  for (const ExampleBatch* batch : {&a, &b, &c, &d})
    offline_trainer.LearnBatch(*batch);
  ExpectIdenticalState(**state.Get(), offline);
}

TEST(LearnerTest, QueueIsBoundedInBytesAsWellAsSamples) {
  std::mt19937 rng(5);
  const ExampleBatch a = RandomBatch(1, rng), b = RandomBatch(2, rng),
                     c = RandomBatch(2, rng);
  // Room in samples for all of them, in bytes for b alone.
  Learner learner(NewModel(), {.queue_capacity = 1 << 16,
                               .queue_capacity_bytes = b.ByteSize() + 1,
                               .publish_every = 1});
  LearnerBlocker blocker(learner, 1);
  QueuedResult qa, qb, qc;
  learner.Submit(a, qa.Callback());
  ASSERT_TRUE(blocker.WaitUntilBlocked());

  learner.Submit(b, qb.Callback());  // the queue is empty: admitted
  ASSERT_TRUE(qb.called());
  EXPECT_EQ(learner.QueuedBytes(), b.ByteSize());
  learner.Submit(c, qc.Callback());  // b + c bytes > capacity: parks
  EXPECT_FALSE(qc.called());
  EXPECT_EQ(learner.QueuedSamples(), 2u);

  blocker.Release();
  EXPECT_THAT(qc.Get(), IsOkAndHolds(5u));
  StateResult state;
  learner.WhenVersion(5, state.Callback());
  ASSERT_THAT(state.Get(), IsOk());
  EXPECT_EQ(learner.QueuedBytes(), 0u);
}

TEST(LearnerTest, BatchLargerThanCapacityIsAdmittedAlone) {
  Learner learner(NewModel(), {.queue_capacity = 4, .publish_every = 1});
  std::mt19937 rng(5);
  QueuedResult q;
  learner.Submit(RandomBatch(50, rng), q.Callback());
  ASSERT_TRUE(q.called());
  EXPECT_THAT(q.Get(), IsOkAndHolds(50u));
  StateResult state;
  learner.WhenVersion(50, state.Callback());
  ASSERT_THAT(state.Get(), IsOk());
  EXPECT_EQ((*state.Get())->version(), 50u);
}

TEST(LearnerTest, StopAppliesEverythingAdmittedThenRefusesWork) {
  Learner learner(NewModel(), {});
  ModelTrainer offline_trainer(NewModel());
  const LinearModel& offline = offline_trainer.model();
  std::mt19937 rng(6);
  uint64_t total = 0;
  for (int b = 0; b < 20; ++b) {
    ExampleBatch batch = RandomBatch(25, rng);
    offline_trainer.LearnBatch(batch);
    total += batch.size();
    learner.Submit(std::move(batch), [](absl::StatusOr<uint64_t>) {});
  }
  learner.Stop();
  ASSERT_EQ(learner.Current()->version(), total);
  ExpectIdenticalState(*learner.Current(), offline);

  QueuedResult late;
  learner.Submit(RandomBatch(3, rng), late.Callback());
  ASSERT_TRUE(late.called());
  EXPECT_THAT(late.Get(), StatusIs(absl::StatusCode::kAborted));

  StateResult unreachable, reached;
  learner.WhenVersion(total + 1, unreachable.Callback());
  ASSERT_TRUE(unreachable.called());
  EXPECT_THAT(unreachable.Get(), StatusIs(absl::StatusCode::kAborted));
  learner.WhenVersion(total, reached.Callback());
  ASSERT_TRUE(reached.called());
  ASSERT_THAT(reached.Get(), IsOk());
  EXPECT_EQ((*reached.Get())->version(), total);

  learner.Stop();  // idempotent
  EXPECT_EQ(learner.Current()->version(), total);
}

TEST(LearnerTest, StopAbortsWaitersForUnreachableVersions) {
  Learner learner(NewModel(), {});
  StateResult reachable, unreachable;
  learner.WhenVersion(10, reachable.Callback());
  learner.WhenVersion(11, unreachable.Callback());
  std::mt19937 rng(7);
  learner.Submit(RandomBatch(10, rng), [](absl::StatusOr<uint64_t>) {});
  learner.Stop();
  ASSERT_TRUE(reachable.called());
  ASSERT_TRUE(unreachable.called());
  ASSERT_THAT(reachable.Get(), IsOk());
  EXPECT_EQ((*reachable.Get())->version(), 10u);
  EXPECT_THAT(unreachable.Get(), StatusIs(absl::StatusCode::kAborted));
  EXPECT_EQ(reachable.calls(), 1);
  EXPECT_EQ(unreachable.calls(), 1);
}

TEST(LearnerTest, CancelledWaitersAreForgottenAndNeverCalled) {
  Learner learner(NewModel(), {});
  // Waiters for versions never reached, each given up by its caller: none
  // may stay registered (each holds a callback and its captures).
  constexpr int kWaiters = 100'000;
  int called = 0;
  auto shared = std::make_shared<int>(0);
  for (int i = 0; i < kWaiters; ++i) {
    const uint64_t id = learner.WhenVersion(
        1'000'000 + i, [&called, shared](StateOr) { ++called; });
    ASSERT_NE(id, 0u);
    ASSERT_TRUE(learner.CancelWait(id));
    ASSERT_FALSE(learner.CancelWait(id));  // once only
  }
  EXPECT_EQ(learner.WaiterCount(), 0u);
  EXPECT_EQ(shared.use_count(), 1);  // every callback was destroyed

  // A cancelled waiter is not called when its version arrives; the others
  // still are.
  StateResult kept;
  const uint64_t dropped =
      learner.WhenVersion(5, [&called](StateOr) { ++called; });
  learner.WhenVersion(5, kept.Callback());
  EXPECT_EQ(learner.WaiterCount(), 2u);
  EXPECT_TRUE(learner.CancelWait(dropped));
  std::mt19937 rng(12);
  learner.Submit(RandomBatch(5, rng), [](absl::StatusOr<uint64_t>) {});
  learner.Stop();
  ASSERT_TRUE(kept.called());
  EXPECT_THAT(kept.Get(), IsOk());
  EXPECT_EQ(called, 0);
  EXPECT_EQ(learner.WaiterCount(), 0u);
  // A waiter that already ran cannot be cancelled; one answered at once has
  // no id.
  EXPECT_FALSE(learner.CancelWait(dropped + 1));
  EXPECT_EQ(learner.WhenVersion(1, [](StateOr) {}), 0u);
}

TEST(LearnerTest, DestructorDrainsAndAbortsWaiters) {
  StateResult unreachable;
  QueuedResult queued;
  {
    Learner learner(NewModel(), {});
    std::mt19937 rng(8);
    learner.Submit(RandomBatch(5, rng), queued.Callback());
    learner.WhenVersion(6, unreachable.Callback());
  }
  EXPECT_THAT(queued.Get(), IsOkAndHolds(5u));
  ASSERT_TRUE(unreachable.called());
  EXPECT_THAT(unreachable.Get(), StatusIs(absl::StatusCode::kAborted));
}

TEST(LearnerTest, BatchParkedAtStopIsEitherAppliedOrAborted) {
  Learner learner(NewModel(), {.queue_capacity = 4, .publish_every = 1});
  auto blocker = std::make_unique<LearnerBlocker>(learner, 1);
  std::mt19937 rng(9);
  const ExampleBatch a = RandomBatch(1, rng), b = RandomBatch(4, rng),
                     c = RandomBatch(1, rng);
  QueuedResult qa, qb, qc;
  learner.Submit(a, qa.Callback());
  ASSERT_TRUE(blocker->WaitUntilBlocked());
  learner.Submit(b, qb.Callback());
  learner.Submit(c, qc.Callback());
  ASSERT_FALSE(qc.called());

  std::thread stopper([&] { learner.Stop(); });
  absl::SleepFor(absl::Milliseconds(50));  // let Stop begin
  blocker->Release();
  stopper.join();

  // Stop has returned: every callback has run exactly once, and a batch is
  // in the final state if and only if it was acknowledged.
  ASSERT_TRUE(qc.called());
  EXPECT_EQ(qc.calls(), 1);
  ModelTrainer offline_trainer(NewModel());
  const LinearModel& offline = offline_trainer.model();
  offline_trainer.LearnBatch(a);
  offline_trainer.LearnBatch(b);
  if (qc.Get().ok()) {
    EXPECT_EQ(*qc.Get(), 6u);
    offline_trainer.LearnBatch(c);
  } else {
    EXPECT_THAT(qc.Get(), StatusIs(absl::StatusCode::kAborted));
  }
  ExpectIdenticalState(*learner.Current(), offline);
}

TEST(LearnerTest, WhenVersionForAdmittedVersionSucceedsWhileStopping) {
  // A waiter for a version that was admitted before Stop must get the state,
  // even if it asks while the learner is still draining the last batch.
  ModelConfig config;
  config.task = Task::kMulticlass;
  config.num_features = 64;
  config.num_classes = 10;
  Learner learner(NewModel(config),
                  {.queue_capacity = 1 << 20, .publish_every = 1 << 30});
  ExampleBatch batch;
  batch.num_features = 64;
  std::vector<float> x(64);
  for (int i = 0; i < 20000; ++i) {
    for (int j = 0; j < 64; ++j) x[j] = static_cast<float>((i * 31 + j) % 17);
    batch.Add(x, i % 10);
  }
  QueuedResult q;
  learner.Submit(std::move(batch), q.Callback());
  ASSERT_THAT(q.Get(), IsOkAndHolds(20000u));
  absl::SleepFor(absl::Milliseconds(5));  // the learner takes the batch
  std::thread stopper([&] { learner.Stop(); });
  absl::SleepFor(absl::Milliseconds(5));  // Stop begins
  StateResult state;
  learner.WhenVersion(20000, state.Callback());
  stopper.join();
  ASSERT_THAT(state.Get(), IsOk());
  EXPECT_EQ((*state.Get())->version(), 20000u);
}

}  // namespace
}  // namespace streamfit
