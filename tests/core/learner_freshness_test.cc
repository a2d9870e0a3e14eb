// The freshness bound: with publish_interval set, the learner publishes in
// the middle of a busy queue, not only every publish_every samples or when
// the queue runs empty.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "core/learner.h"
#include "tests/testing/status_matchers.h"

namespace streamfit {
namespace {

using ::streamfit::testing::IsOk;
using StateOr = absl::StatusOr<std::shared_ptr<const LinearModel>>;

constexpr absl::Duration kTimeout = absl::Seconds(20);

ExampleBatch Batch(size_t n) {
  ExampleBatch batch;
  batch.num_features = 2;
  for (size_t i = 0; i < n; ++i) {
    const float x[2] = {static_cast<float>(i % 5), 1.0f};
    batch.Add(x, 2.0 * x[0] - 1);
  }
  return batch;
}

// The version of the state that answers a waiter for version 65 when the
// learner finds 64 + 64 samples queued behind one already applied.
uint64_t VersionSeenAt65(absl::Duration publish_interval) {
  ModelConfig config;
  config.task = Task::kRegression;
  config.num_features = 2;
  absl::StatusOr<LinearModel> model = LinearModel::Create(config);
  EXPECT_THAT(model, IsOk());
  Learner::Options options;
  options.publish_every = 1 << 30;  // never by count
  options.publish_interval = publish_interval;
  Learner learner(*std::move(model), options);

  // Hold the learner thread in a waiter's callback (they run on it) while
  // two batches are queued, so the queue does not run empty between them.
  absl::Notification blocked, release, seen;
  learner.WhenVersion(1, [&](StateOr) {
    blocked.Notify();
    release.WaitForNotificationWithTimeout(kTimeout);
  });
  learner.Submit(Batch(1), [](absl::StatusOr<uint64_t>) {});
  EXPECT_TRUE(blocked.WaitForNotificationWithTimeout(kTimeout));
  learner.Submit(Batch(64), [](absl::StatusOr<uint64_t>) {});
  learner.Submit(Batch(64), [](absl::StatusOr<uint64_t>) {});
  uint64_t version = 0;
  learner.WhenVersion(65, [&](StateOr state) {
    EXPECT_THAT(state, IsOk());
    version = (*state)->version();
    seen.Notify();
  });
  release.Notify();
  EXPECT_TRUE(seen.WaitForNotificationWithTimeout(kTimeout));
  return version;
}

TEST(LearnerFreshnessTest, IntervalPublishesWhileTheQueueIsBusy) {
  // Due at once (1 ns): published after the 64th sample of the first batch.
  EXPECT_EQ(VersionSeenAt65(absl::Nanoseconds(1)), 65u);
}

TEST(LearnerFreshnessTest, WithoutIntervalOnlyEmptyQueuePublishes) {
  // No time bound: nothing is published until the queue runs empty.
  EXPECT_EQ(VersionSeenAt65(absl::ZeroDuration()), 129u);
}

TEST(LearnerFreshnessTest, LongIntervalIsNotDueYet) {
  EXPECT_EQ(VersionSeenAt65(absl::Hours(1)), 129u);
}

}  // namespace
}  // namespace streamfit
