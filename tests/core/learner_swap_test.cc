// Learner::Adopt (core/learner_swap.cc): the swapped-in model is the fitted
// one continued by every sample applied since the recording began (G4).
// Learner::Replace installs a model that continues the live version as is.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "core/batch_trainer.h"
#include "core/learner.h"
#include "core/model/model_trainer.h"
#include "tests/testing/model_state.h"
#include "tests/testing/status_matchers.h"

namespace streamfit {
namespace {

using ::streamfit::testing::ExpectIdenticalState;
using ::streamfit::testing::IsOk;
using ::streamfit::testing::StatusIs;

constexpr absl::Duration kTimeout = absl::Seconds(30);

ModelConfig Config() {
  ModelConfig config;
  config.task = Task::kRegression;
  config.num_features = 3;
  return config;
}

// With `hashed`, every other example also has two hashed features.
ExampleBatch Batch(size_t n, std::mt19937& rng, bool hashed = false) {
  std::normal_distribution<float> normal(0, 1);
  ExampleBatch b;
  b.num_features = 3;
  for (size_t i = 0; i < n; ++i) {
    std::vector<float> x = {normal(rng), normal(rng), normal(rng)};
    const double y = 2 * x[0] - x[1] + 0.1 * normal(rng);
    if (hashed && i % 2 == 0) {
      const uint32_t hashes[2] = {static_cast<uint32_t>(rng() % 100),
                                  static_cast<uint32_t>(rng() % 100)};
      const uint32_t namespaces[2] = {0, 0};
      const float values[2] = {1, normal(rng)};
      b.Add(ExampleView{x, hashes, namespaces, values}, y + hashes[0] % 3);
    } else {
      b.Add(x, y);
    }
  }
  return b;
}

// Learner::Adopt or Learner::Replace of `model`, waited for.
absl::StatusOr<uint64_t> SwapAndWait(
    Learner& learner,
    void (Learner::*swap)(LinearModel, Learner::AdoptCallback,
                          Learner::SwapObserver),
    LinearModel model) {
  absl::Notification done;
  absl::StatusOr<uint64_t> result;
  (learner.*swap)(
      std::move(model),
      [&](absl::StatusOr<uint64_t> v) {
        result = std::move(v);
        done.Notify();
      },
      nullptr);
  EXPECT_TRUE(done.WaitForNotificationWithTimeout(kTimeout));
  return result;
}

absl::StatusOr<uint64_t> AdoptAndWait(Learner& learner, LinearModel fitted) {
  return SwapAndWait(learner, &Learner::Adopt, std::move(fitted));
}

absl::StatusOr<uint64_t> ReplaceAndWait(Learner& learner, LinearModel next) {
  return SwapAndWait(learner, &Learner::Replace, std::move(next));
}

void SubmitAndWait(Learner& learner, ExampleBatch batch) {
  absl::Notification queued;
  learner.Submit(std::move(batch), [&](absl::StatusOr<uint64_t> v) {
    EXPECT_THAT(v, IsOk());
    queued.Notify();
  });
  ASSERT_TRUE(queued.WaitForNotificationWithTimeout(kTimeout));
}

// Waits until the learner has published `version`.
void AwaitVersion(Learner& learner, uint64_t version) {
  absl::Notification published;
  learner.WhenVersion(version, [&](auto) { published.Notify(); });
  ASSERT_TRUE(published.WaitForNotificationWithTimeout(kTimeout));
}

// Adopting a fresh fit is refused with `code`, and the live model stays as
// it was.
void ExpectAdoptionRefused(Learner& learner, absl::StatusCode code) {
  const auto before = learner.Current();
  EXPECT_THAT(AdoptAndWait(learner, *LinearModel::Create(Config())),
              StatusIs(code));
  ExpectIdenticalState(*learner.Current(), *before);
}

TEST(LearnerSwapTest, AdoptedModelIsFitPlusSamplesSinceCutoffBitEqual) {
  std::mt19937 rng(1);
  const ExampleBatch dataset = Batch(500, rng);
  Learner::Options options;
  options.queue_capacity = 64;
  options.publish_every = 7;
  Learner learner(*LinearModel::Create(Config()), options);
  std::vector<ExampleBatch> before, during;
  for (int i = 0; i < 5; ++i) before.push_back(Batch(13, rng));
  for (const auto& b : before) SubmitAndWait(learner, b);

  absl::StatusOr<uint64_t> cutoff = learner.BeginRecording(1 << 20);
  ASSERT_THAT(cutoff, IsOk());
  // A producer streams while the fit runs, with hashed features too: the
  // replay after the swap must apply them whole.
  for (int i = 0; i < 40; ++i) during.push_back(Batch(1 + i % 17, rng, true));
  std::thread producer([&] {
    for (const auto& b : during) SubmitAndWait(learner, b);
  });
  FitOptions fit;
  fit.algorithm = FitAlgorithm::kLbfgs;
  absl::StatusOr<LinearModel> fitted = Fit(Config(), dataset, fit);
  ASSERT_THAT(fitted, IsOk());
  const LinearModel fitted_copy = *fitted;
  producer.join();
  absl::StatusOr<uint64_t> version = AdoptAndWait(learner, *std::move(fitted));
  ASSERT_THAT(version, IsOk());

  // Expected: the fit, at the cutoff version, then every batch the learner
  // applied after the cutoff, in order.
  uint64_t total = 0;
  for (const auto& b : before) total += b.size();
  for (const auto& b : during) total += b.size();
  // Batches still queued at the swap are learned after it, by the new model.
  EXPECT_GE(*version, *cutoff);
  EXPECT_LE(*version, total);
  AwaitVersion(learner, total);
  absl::StatusOr<LinearModel> from_cutoff =
      LinearModel::FromState(Config(), *cutoff, fitted_copy.ExportState());
  ASSERT_THAT(from_cutoff, IsOk());
  ModelTrainer expected(*std::move(from_cutoff));
  uint64_t v = 0;
  for (const auto* list : {&before, &during}) {
    for (const auto& b : *list) {
      for (size_t i = 0; i < b.size(); ++i, ++v) {
        if (v >= *cutoff) expected.Learn(b.view(i), b.labels[i], b.weights[i]);
      }
    }
  }
  ExpectIdenticalState(*learner.Current(), expected.model());

  // After the swap the learner goes on from the swapped model.
  ExampleBatch after = Batch(9, rng, true);
  SubmitAndWait(learner, after);
  for (size_t i = 0; i < after.size(); ++i) {
    expected.Learn(after.view(i), after.labels[i], after.weights[i]);
  }
  AwaitVersion(learner, total + 9);
  ExpectIdenticalState(*learner.Current(), expected.model());
}

TEST(LearnerSwapTest, AdoptWithoutRecordingOrAfterOverflowKeepsTheModel) {
  std::mt19937 rng(2);
  Learner learner(*LinearModel::Create(Config()), {});
  SubmitAndWait(learner, Batch(10, rng));
  EXPECT_THAT(AdoptAndWait(learner, *LinearModel::Create(Config())),
              StatusIs(absl::StatusCode::kFailedPrecondition));

  ASSERT_THAT(learner.BeginRecording(5), IsOk());
  EXPECT_THAT(learner.BeginRecording(5),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  SubmitAndWait(learner, Batch(10, rng));
  AwaitVersion(learner, 20);
  ExpectAdoptionRefused(learner, absl::StatusCode::kResourceExhausted);

  // EndRecording drops it; a new one may start.
  learner.EndRecording();
  EXPECT_THAT(learner.BeginRecording(5), IsOk());
}

TEST(LearnerSwapTest, AdoptIsRefusedIfHashedStateWasLearnedBeforeTheCutoff) {
  std::mt19937 rng(3);
  Learner learner(*LinearModel::Create(Config()), {});
  SubmitAndWait(learner, Batch(10, rng));
  SubmitAndWait(learner, Batch(4, rng, /*hashed=*/true));
  AwaitVersion(learner, 14);
  ASSERT_TRUE(learner.Current()->HasHashedState());
  // The hashed samples precede the cutoff, so the fit would replace them.
  ASSERT_THAT(learner.BeginRecording(100), IsOk());
  SubmitAndWait(learner, Batch(5, rng));
  AwaitVersion(learner, 19);
  ExpectAdoptionRefused(learner, absl::StatusCode::kFailedPrecondition);
  // Also with no sample recorded since the cutoff.
  ASSERT_THAT(learner.BeginRecording(100), IsOk());
  ExpectAdoptionRefused(learner, absl::StatusCode::kFailedPrecondition);
}

TEST(LearnerSwapTest, AdoptAfterStopIsAborted) {
  Learner learner(*LinearModel::Create(Config()), {});
  ASSERT_THAT(learner.BeginRecording(5), IsOk());
  learner.Stop();
  // AdoptAndWait fails the test if the callback never runs.
  ExpectAdoptionRefused(learner, absl::StatusCode::kAborted);
  EXPECT_THAT(learner.BeginRecording(5), StatusIs(absl::StatusCode::kAborted));
}

TEST(LearnerSwapTest, ReplaceInstallsAModelAtTheLiveVersionAsIs) {
  std::mt19937 rng(3);
  Learner learner(*LinearModel::Create(Config()), {});
  SubmitAndWait(learner, Batch(20, rng));
  AwaitVersion(learner, 20);
  // Another model's state at the live version, e.g. a fit continued
  // elsewhere.
  ModelTrainer other(*LinearModel::Create(Config()));
  other.LearnBatch(Batch(20, rng));
  const LinearModel next = other.model();
  EXPECT_THAT(ReplaceAndWait(learner, next), IsOk());
  ExpectIdenticalState(*learner.Current(), next);
  // It learns on from there.
  const ExampleBatch more = Batch(5, rng);
  other.LearnBatch(more);
  SubmitAndWait(learner, more);
  AwaitVersion(learner, 25);
  ExpectIdenticalState(*learner.Current(), other.model());
}

TEST(LearnerSwapTest, ReplaceRefusesAModelThatDoesNotContinueTheLiveOne) {
  std::mt19937 rng(4);
  Learner learner(*LinearModel::Create(Config()), {});
  SubmitAndWait(learner, Batch(10, rng));
  AwaitVersion(learner, 10);
  const auto before = learner.Current();
  ModelTrainer behind(*LinearModel::Create(Config()));
  behind.LearnBatch(Batch(9, rng));
  EXPECT_THAT(ReplaceAndWait(learner, behind.model()),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  ModelConfig wider = Config();
  wider.num_features = 4;
  absl::StatusOr<LinearModel> other = LinearModel::FromState(
      wider, 10, LinearModel::Create(wider)->ExportState());
  ASSERT_THAT(other, IsOk());
  EXPECT_THAT(ReplaceAndWait(learner, *std::move(other)),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  ExpectIdenticalState(*learner.Current(), *before);
  learner.Stop();
  EXPECT_THAT(ReplaceAndWait(learner, LinearModel(*before)),
              StatusIs(absl::StatusCode::kAborted));
}

}  // namespace
}  // namespace streamfit
