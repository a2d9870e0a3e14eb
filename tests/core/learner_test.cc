#include "core/learner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/model/feature_hash.h"
#include "core/model/model_trainer.h"
#include "tests/testing/model_state.h"
#include "tests/testing/status_matchers.h"

namespace streamfit {
namespace {

using ::streamfit::testing::ExpectIdenticalState;
using ::streamfit::testing::IsOk;
using ::streamfit::testing::StatusIs;

// Every wait in these tests is bounded, so a bug fails a test instead of
// hanging the suite.
constexpr absl::Duration kTimeout = absl::Seconds(20);
constexpr uint32_t kFeatures = 3;

using StateOr = absl::StatusOr<std::shared_ptr<const LinearModel>>;

ModelConfig BinaryConfig() {
  ModelConfig config;
  config.task = Task::kBinary;
  config.num_features = kFeatures;
  return config;
}

LinearModel NewModel(const ModelConfig& config = BinaryConfig()) {
  absl::StatusOr<LinearModel> model = LinearModel::Create(config);
  EXPECT_THAT(model, IsOk());
  return *std::move(model);
}

// A batch of `n` random binary examples.
ExampleBatch RandomBatch(size_t n, std::mt19937& rng) {
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

TEST(LearnerTest, InitialStateIsTheGivenModel) {
  ModelTrainer trainer(NewModel());
  const LinearModel& model = trainer.model();
  std::mt19937 rng(1);
  trainer.LearnBatch(RandomBatch(10, rng));
  Learner learner(model, {});
  ASSERT_NE(learner.Current(), nullptr);
  ExpectIdenticalState(*learner.Current(), model);
  // A version already published is delivered at once, on this thread.
  StateResult now;
  learner.WhenVersion(10, now.Callback());
  ASSERT_TRUE(now.called());
  EXPECT_EQ(now.thread(), std::this_thread::get_id());
  ASSERT_THAT(now.Get(), IsOk());
  EXPECT_EQ((*now.Get())->version(), 10u);
}

TEST(LearnerTest, WhenVersionGivesStateEqualToOfflineModel) {
  Learner learner(NewModel(), {});
  ModelTrainer offline_trainer(NewModel());
  const LinearModel& offline = offline_trainer.model();
  std::mt19937 rng(2);
  std::vector<std::unique_ptr<QueuedResult>> queued;
  uint64_t expected_end = 0;
  for (int b = 0; b < 10; ++b) {
    ExampleBatch batch = RandomBatch(37, rng);
    offline_trainer.LearnBatch(batch);
    expected_end += batch.size();
    queued.push_back(std::make_unique<QueuedResult>());
    learner.Submit(std::move(batch), queued.back()->Callback());
    // There is room, so the batch is admitted before Submit returns.
    ASSERT_TRUE(queued.back()->called());
    EXPECT_THAT(queued.back()->Get(), IsOkAndHolds(expected_end));
  }
  StateResult state;
  learner.WhenVersion(370, state.Callback());
  const StateOr s = state.Get();
  ASSERT_THAT(s, IsOk());
  ASSERT_EQ((*s)->version(), 370u);
  ExpectIdenticalState(**s, offline);
  EXPECT_EQ(learner.Current()->version(), 370u);
}

TEST(LearnerTest, IntermediateVersionsEqualOfflinePrefixes) {
  // publish_every 1: every version is published, and each waiter gets a state
  // at least as new as it asked for that equals the offline model then.
  Learner learner(NewModel(), {.queue_capacity = 1 << 16, .publish_every = 1});
  std::mt19937 rng(3);
  ExampleBatch all = RandomBatch(60, rng);
  std::vector<std::unique_ptr<StateResult>> waiters;
  for (uint64_t v = 1; v <= 60; v += 7) {
    waiters.push_back(std::make_unique<StateResult>());
    learner.WhenVersion(v, waiters.back()->Callback());
  }
  ExampleBatch first, second;
  first.num_features = second.num_features = kFeatures;
  for (size_t i = 0; i < all.size(); ++i) {
    (i < 25 ? first : second).Add(all.row(i), all.labels[i]);
  }
  learner.Submit(first, [](absl::StatusOr<uint64_t>) {});
  learner.Submit(second, [](absl::StatusOr<uint64_t>) {});
  ModelTrainer trainer(NewModel());
  std::vector<LinearModel> offline = {trainer.model()};
  for (size_t i = 0; i < all.size(); ++i) {
    trainer.Learn(all.row(i), all.labels[i]);
    offline.push_back(trainer.model());
  }
  uint64_t v = 1;
  for (auto& w : waiters) {
    const StateOr s = w->Get();
    ASSERT_THAT(s, IsOk());
    EXPECT_GE((*s)->version(), v);
    ExpectIdenticalState(**s, offline[(*s)->version()]);
    v += 7;
  }
}

TEST(LearnerTest, ConcurrentProducersAndReadersSeeOfflineReplayStates) {
  constexpr int kProducers = 3;
  constexpr int kBatchesPerProducer = 40;
  constexpr int kReaders = 2;

  // Each producer's batches, fixed in advance.
  std::vector<std::vector<ExampleBatch>> batches(kProducers);
  uint64_t total = 0;
  for (int p = 0; p < kProducers; ++p) {
    std::mt19937 rng(100 + p);
    std::uniform_int_distribution<size_t> size(1, 20);
    for (int b = 0; b < kBatchesPerProducer; ++b) {
      batches[p].push_back(RandomBatch(size(rng), rng));
      total += batches[p].back().size();
    }
  }

  // (end_version, producer, batch) as reported by on_queued.
  absl::Mutex admitted_mu;
  std::vector<std::tuple<uint64_t, int, int>> admitted;
  std::atomic<bool> producer_failed = false;
  // Declared after what its callbacks touch, so it is destroyed first.
  Learner learner(NewModel(), {.queue_capacity = 32, .publish_every = 5});

  std::atomic<bool> stop_readers = false;
  std::vector<std::vector<std::shared_ptr<const LinearModel>>> seen(kReaders);
  std::vector<std::thread> readers;
  for (int r = 0; r < kReaders; ++r) {
    readers.emplace_back([&, r] {
      uint64_t last = 0;
      while (!stop_readers.load()) {
        std::shared_ptr<const LinearModel> state = learner.Current();
        if (seen[r].empty() || state->version() != last) {
          seen[r].push_back(state);
          last = state->version();
        }
      }
    });
  }
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int b = 0; b < kBatchesPerProducer; ++b) {
        // Like an RPC reactor: submit the next batch only once the previous
        // one is admitted.
        auto queued = std::make_shared<absl::Notification>();
        learner.Submit(batches[p][b],
                       [&, queued, p, b](absl::StatusOr<uint64_t> v) {
                         if (v.ok()) {
                           absl::MutexLock lock(&admitted_mu);
                           admitted.emplace_back(*v, p, b);
                         } else {
                           producer_failed = true;
                         }
                         queued->Notify();
                       });
        if (!queued->WaitForNotificationWithTimeout(kTimeout)) {
          producer_failed = true;
          return;
        }
      }
    });
  }
  for (auto& t : producers) t.join();
  StateResult final_state;
  learner.WhenVersion(total, final_state.Callback());
  final_state.Get().IgnoreError();  // waits (bounded)
  stop_readers = true;
  for (auto& t : readers) t.join();
  ASSERT_FALSE(producer_failed.load());
  ASSERT_THAT(final_state.Get(), IsOk());

  // Rebuild the admission order and check the versions tile [0, total).
  std::sort(admitted.begin(), admitted.end());
  ASSERT_EQ(admitted.size(),
            static_cast<size_t>(kProducers) * kBatchesPerProducer);
  uint64_t version = 0;
  for (const auto& [end, p, b] : admitted) {
    version += batches[p][b].size();
    ASSERT_EQ(end, version);
  }
  ASSERT_EQ(version, total);

  // Every reader saw increasing versions.
  std::vector<uint64_t> observed;
  for (int r = 0; r < kReaders; ++r) {
    ASSERT_FALSE(seen[r].empty());
    for (size_t i = 1; i < seen[r].size(); ++i) {
      ASSERT_GT(seen[r][i]->version(), seen[r][i - 1]->version())
          << "reader " << r;
    }
    for (const auto& s : seen[r]) observed.push_back(s->version());
  }

  // Replay offline in admission order; compare with every observed state.
  std::vector<std::shared_ptr<const LinearModel>> all_seen;
  for (auto& v : seen) all_seen.insert(all_seen.end(), v.begin(), v.end());
  all_seen.push_back(*final_state.Get());
  std::sort(all_seen.begin(), all_seen.end(), [](const auto& a, const auto& b) {
    return a->version() < b->version();
  });
  ModelTrainer offline_trainer(NewModel());
  const LinearModel& offline = offline_trainer.model();
  size_t next = 0;
  auto check_up_to_here = [&] {
    for (; next < all_seen.size() &&
           all_seen[next]->version() == offline.version();
         ++next) {
      ExpectIdenticalState(*all_seen[next], offline);
      Prediction online_p, offline_p;
      const std::vector<float> probe = {0.3f, -1.2f, 2.0f};
      all_seen[next]->Predict(probe, online_p);
      offline.Predict(probe, offline_p);
      EXPECT_EQ(online_p.value, offline_p.value);
    }
  };
  check_up_to_here();
  for (const auto& [end, p, b] : admitted) {
    const ExampleBatch& batch = batches[p][b];
    for (size_t i = 0; i < batch.size(); ++i) {
      offline_trainer.Learn(batch.row(i), batch.labels[i], batch.weights[i]);
      check_up_to_here();
    }
  }
  EXPECT_EQ(next, all_seen.size()) << "a state with an impossible version";
}

// Sparse models: the learner writes the shared-block table while readers
// take each published state and let it go at once, so the learner keeps
// switching to buffers that readers have just released. Every state a reader
// saw must equal the offline replay at its version (compared through a
// fingerprint of its whole exported state, taken while the reader held it).
TEST(LearnerTest, ReadersOfASparseModelSeeExactStatesWhileBuffersAreReused) {
  ModelConfig config;
  config.task = Task::kBinary;
  config.num_features = 0;
  config.hash_bits = 13;  // two blocks
  std::mt19937 rng(9);
  std::uniform_int_distribution<uint32_t> word(0, 5000);
  const uint32_t ns = HashNamespace("w");
  std::vector<ExampleBatch> batches(60);
  uint64_t total = 0;
  for (ExampleBatch& batch : batches) {
    for (int i = 0; i < 8; ++i) {
      std::vector<uint32_t> hashes, namespaces(6, ns);
      std::vector<float> values(6, 1.0f);
      for (int f = 0; f < 6; ++f)
        hashes.push_back(HashFeatureIndex(ns, word(rng)));
      batch.Add(ExampleView{{}, hashes, namespaces, values}, rng() % 2);
    }
    total += batch.size();
  }
  const auto fingerprint = [](const LinearModel& m) {
    uint64_t h = 1469598103934665603u;
    for (const NamedTensor& t : m.ExportState()) {
      for (double v : t.values) {
        uint64_t bits;
        std::memcpy(&bits, &v, sizeof bits);
        h = (h ^ bits) * 1099511628211u;
      }
    }
    return h;
  };

  Learner learner(NewModel(config), {.publish_every = 3});
  std::atomic<bool> stop_readers = false;
  constexpr int kReaders = 2;
  std::vector<std::vector<std::pair<uint64_t, uint64_t>>> seen(kReaders);
  std::atomic<uint64_t> last_seen[kReaders] = {0, 0};
  std::vector<std::thread> readers;
  for (int r = 0; r < kReaders; ++r) {
    readers.emplace_back([&, r] {
      uint64_t last = ~uint64_t{0};
      while (!stop_readers.load()) {
        std::shared_ptr<const LinearModel> state = learner.Current();
        if (state->version() != last) {
          last = state->version();
          seen[r].emplace_back(last, fingerprint(*state));
          last_seen[r] = last;
        }
      }  // released here: its buffers may be reused
    });
  }
  uint64_t end = 0;
  for (const ExampleBatch& batch : batches) {
    QueuedResult queued;
    learner.Submit(batch, queued.Callback());
    ASSERT_THAT(queued.Get(), IsOk());
    // Until both readers have seen this batch applied (bounded), so every
    // batch is read while the learner goes on.
    end += batch.size();
    for (int i = 0; i < 100000 && (last_seen[0] < end || last_seen[1] < end);
         ++i) {
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  }
  StateResult final_state;
  learner.WhenVersion(total, final_state.Callback());
  ASSERT_THAT(final_state.Get(), IsOk());
  stop_readers = true;
  for (auto& t : readers) t.join();

  std::map<uint64_t, uint64_t> expected;  // version -> fingerprint
  ModelTrainer offline_trainer(NewModel(config));
  const LinearModel& offline = offline_trainer.model();
  expected[0] = fingerprint(offline);
  for (const ExampleBatch& batch : batches) {
    for (size_t i = 0; i < batch.size(); ++i) {
      offline_trainer.Learn(batch.view(i), batch.labels[i], batch.weights[i]);
      expected[offline.version()] = fingerprint(offline);
    }
  }
  size_t checked = 0;
  for (const auto& out : seen) {
    for (const auto& [version, print] : out) {
      ASSERT_TRUE(expected.count(version)) << version;
      EXPECT_EQ(print, expected[version]) << "version " << version;
      ++checked;
    }
  }
  EXPECT_GE(checked, kReaders * batches.size());
  EXPECT_EQ(fingerprint(**final_state.Get()), expected[total]);
}

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
