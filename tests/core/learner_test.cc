// Learner publication: every state a reader sees equals the offline replay
// of the samples before it, with producers and readers running at once.
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
#include "core/model/feature_hash.h"
#include "core/model/model_trainer.h"
#include "tests/testing/learner_harness.h"
#include "tests/testing/model_state.h"
#include "tests/testing/status_matchers.h"

namespace streamfit {
namespace {

using ::streamfit::testing::ExpectIdenticalState;
using ::streamfit::testing::IsOk;
using ::streamfit::testing::IsOkAndHolds;
using ::streamfit::testing::kFeatures;
using ::streamfit::testing::kTimeout;
using ::streamfit::testing::NewModel;
using ::streamfit::testing::QueuedResult;
using ::streamfit::testing::RandomBatch;
using ::streamfit::testing::StateOr;
using ::streamfit::testing::StateResult;

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

}  // namespace
}  // namespace streamfit
