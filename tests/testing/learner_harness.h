// Helpers of the Learner tests: models and random batches, a recorder for
// the learner's callbacks, and a blocker that holds the learner thread.
#ifndef STREAMFIT_TESTS_TESTING_LEARNER_HARNESS_H_
#define STREAMFIT_TESTS_TESTING_LEARNER_HARNESS_H_

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "core/learner.h"
#include "core/model/example_batch.h"
#include "core/model/linear_model.h"
#include "tests/testing/status_matchers.h"

namespace streamfit::testing {

// Every wait in the learner tests is bounded, so a bug fails a test instead of
// hanging the suite.
inline constexpr absl::Duration kTimeout = absl::Seconds(20);
inline constexpr uint32_t kFeatures = 3;

using StateOr = absl::StatusOr<std::shared_ptr<const LinearModel>>;

inline ModelConfig BinaryConfig() {
  ModelConfig config;
  config.task = Task::kBinary;
  config.num_features = kFeatures;
  return config;
}

inline LinearModel NewModel(const ModelConfig& config = BinaryConfig()) {
  absl::StatusOr<LinearModel> model = LinearModel::Create(config);
  EXPECT_THAT(model, IsOk());
  return *std::move(model);
}

// A batch of `n` random binary examples.
inline ExampleBatch RandomBatch(size_t n, std::mt19937& rng) {
  std::normal_distribution<float> normal(0, 1);
  ExampleBatch batch;
  batch.num_features = kFeatures;
  for (size_t i = 0; i < n; ++i) {
    std::vector<float> x(kFeatures);
    for (float& v : x) v = normal(rng);
    batch.Add(x, x[0] - 0.5f * x[1] + 0.1f * normal(rng) > 0 ? 1 : 0);
  }
  return batch;
}

MATCHER_P(IsOkAndHolds, expected, "") {
  if (!arg.ok()) {
    *result_listener << "status is " << arg.status();
    return false;
  }
  *result_listener << "value is " << *arg;
  return *arg == expected;
}

// Records the result of a callback and lets the test wait for it. The
// callback shares ownership of what it writes, so it may outlive this object
// (as when a failed test destroys it before the learner).
template <typename T>
class Result {
 public:
  auto Callback() {
    return [shared = shared_](T value) {
      bool first;
      {
        absl::MutexLock lock(&shared->mu);
        shared->value = std::move(value);
        shared->thread = std::this_thread::get_id();
        first = ++shared->calls == 1;
      }
      if (first) shared->done.Notify();
    };
  }
  bool called() const { return shared_->done.HasBeenNotified(); }
  // Waits (bounded) and returns the value.
  T Get() {
    EXPECT_TRUE(shared_->done.WaitForNotificationWithTimeout(kTimeout))
        << "callback never called";
    absl::MutexLock lock(&shared_->mu);
    return shared_->value;
  }
  std::thread::id thread() {
    absl::MutexLock lock(&shared_->mu);
    return shared_->thread;
  }
  int calls() {
    absl::MutexLock lock(&shared_->mu);
    return shared_->calls;
  }

 private:
  struct Shared {
    absl::Notification done;
    absl::Mutex mu;
    T value ABSL_GUARDED_BY(mu) = absl::UnknownError("unset");
    std::thread::id thread ABSL_GUARDED_BY(mu);
    int calls ABSL_GUARDED_BY(mu) = 0;
  };
  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
};

using QueuedResult = Result<absl::StatusOr<uint64_t>>;
using StateResult = Result<StateOr>;

// Holds the learner thread inside a WhenVersion callback until released, so
// tests control when it takes the next batch. Releases on destruction.
class LearnerBlocker {
 public:
  // Blocks the learner once it publishes `version`.
  LearnerBlocker(Learner& learner, uint64_t version) {
    learner.WhenVersion(version, [shared = shared_](StateOr) {
      shared->entered.Notify();
      shared->release.WaitForNotificationWithTimeout(kTimeout);
    });
  }
  ~LearnerBlocker() { Release(); }
  bool WaitUntilBlocked() {
    return shared_->entered.WaitForNotificationWithTimeout(kTimeout);
  }
  void Release() {
    if (!shared_->release.HasBeenNotified()) shared_->release.Notify();
  }

 private:
  struct Shared {
    absl::Notification entered, release;
  };
  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
};

}  // namespace streamfit::testing

#endif  // STREAMFIT_TESTS_TESTING_LEARNER_HARNESS_H_
