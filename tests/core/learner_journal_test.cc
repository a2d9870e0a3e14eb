// The Learner's journal hook: a batch is journaled before it is
// queued, in admission order; a refused append is never applied; on_queued
// waits for durability.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "core/learner.h"
#include "core/storage/journal.h"
#include "tests/testing/status_matchers.h"

namespace streamfit {
namespace {

using ::streamfit::testing::StatusIs;

// Records appends; fails them while `full` is set; holds durability
// callbacks until Flush() (or FailPending(), an fsync error: then appends
// fail until the learner reopens it, allowed by AllowReopen()); after
// HoldAppends(), appends wait in Append until ReleaseAppends() (a slow disk).
class FakeJournal : public Journal {
 public:
  absl::StatusOr<uint64_t> Append(uint64_t start,
                                  const ExampleBatch& batch) override {
    absl::MutexLock lock(&mu_);
    ++appending_;
    changed_.SignalAll();
    while (held_) changed_.Wait(&mu_);
    --appending_;
    if (full_) return absl::ResourceExhaustedError("disk full");
    if (failed_) return absl::UnavailableError("journal failed");
    starts_.push_back(start);
    return start + batch.size();
  }
  void WhenDurable(uint64_t end,
                   absl::AnyInvocable<void(absl::Status)> done) override {
    absl::MutexLock lock(&mu_);
    pending_.emplace_back(end, std::move(done));
  }
  absl::StatusOr<uint64_t> Reopen() override {
    absl::MutexLock lock(&mu_);
    if (failed_ && !reopenable_) return absl::UnavailableError("not yet");
    failed_ = false;
    reopened_ = true;
    return durable_end_;
  }
  void Flush() { Settle(absl::OkStatus()); }
  void FailPending(absl::Status error) {
    {
      absl::MutexLock lock(&mu_);
      failed_ = true;
    }
    Settle(error);
  }
  void AllowReopen() {
    absl::MutexLock lock(&mu_);
    reopenable_ = true;
  }
  bool reopened() {
    absl::MutexLock lock(&mu_);
    return reopened_;
  }
  void SetFull(bool full) {
    absl::MutexLock lock(&mu_);
    full_ = full;
  }
  std::vector<uint64_t> starts() {
    absl::MutexLock lock(&mu_);
    return starts_;
  }
  void HoldAppends() {
    absl::MutexLock lock(&mu_);
    held_ = true;
  }
  void ReleaseAppends() {
    absl::MutexLock lock(&mu_);
    held_ = false;
    changed_.SignalAll();
  }
  // Waits until an append is held.
  void AwaitHeldAppend() {
    absl::MutexLock lock(&mu_);
    while (!held_ || appending_ == 0) changed_.Wait(&mu_);
  }

 private:
  absl::Mutex mu_;
  absl::CondVar changed_;  // held_ or appending_ changed
  bool held_ = false;
  int appending_ = 0;
  bool full_ = false;
  std::vector<uint64_t> starts_;
  void Settle(const absl::Status& status) {
    std::vector<std::pair<uint64_t, absl::AnyInvocable<void(absl::Status)>>>
        done;
    {
      absl::MutexLock lock(&mu_);
      done.swap(pending_);
      for (auto& [end, d] : done) {
        if (status.ok()) durable_end_ = std::max(durable_end_, end);
      }
    }
    for (auto& [end, d] : done) d(status);
  }

  bool failed_ = false;
  bool reopenable_ = false;
  bool reopened_ = false;
  uint64_t durable_end_ = 0;
  std::vector<std::pair<uint64_t, absl::AnyInvocable<void(absl::Status)>>>
      pending_;
};

ExampleBatch Batch(size_t n) {
  ExampleBatch b;
  b.num_features = 1;
  for (size_t i = 0; i < n; ++i) {
    const float x[1] = {static_cast<float>(i)};
    b.Add(x, 2.0 * i);
  }
  return b;
}

LinearModel NewModel() {
  ModelConfig config;
  config.task = Task::kRegression;
  config.num_features = 1;
  return *LinearModel::Create(config);
}

TEST(LearnerJournalTest, AcksOnlyOnceDurableAndJournalsInOrder) {
  FakeJournal journal;
  Learner learner(NewModel(), {}, &journal);
  std::vector<uint64_t> acked;
  absl::Mutex mu;
  for (size_t n : {3, 2, 4}) {
    learner.Submit(Batch(n), [&](absl::StatusOr<uint64_t> v) {
      absl::MutexLock lock(&mu);
      acked.push_back(*v);
    });
  }
  {
    absl::MutexLock lock(&mu);
    EXPECT_TRUE(acked.empty());
  }
  journal.Flush();
  absl::MutexLock lock(&mu);
  EXPECT_EQ(acked, (std::vector<uint64_t>{3, 5, 9}));
  EXPECT_EQ(journal.starts(), (std::vector<uint64_t>{0, 3, 5}));
}

TEST(LearnerJournalTest, AdmittedRunsBeforeDurabilitySoProducersPipeline) {
  FakeJournal journal;
  Learner learner(NewModel(), {}, &journal);
  // Three batches admitted while none is durable: a producer told "admitted"
  // may send on, and their records can share one fsync.
  std::vector<std::string> events;
  absl::Mutex mu;
  const auto log = [&](std::string e) {
    absl::MutexLock lock(&mu);
    events.push_back(std::move(e));
  };
  for (int i = 0; i < 3; ++i) {
    learner.Submit(
        Batch(2),
        [&, i](absl::StatusOr<uint64_t> v) {
          log(absl::StrCat("queued ", i, " at ", *v));
        },
        [&, i] { log(absl::StrCat("admitted ", i)); });
  }
  {
    absl::MutexLock lock(&mu);
    EXPECT_EQ(events, (std::vector<std::string>{"admitted 0", "admitted 1",
                                                "admitted 2"}));
  }
  journal.Flush();
  absl::MutexLock lock(&mu);
  EXPECT_EQ(events, (std::vector<std::string>{
                        "admitted 0", "admitted 1", "admitted 2",
                        "queued 0 at 2", "queued 1 at 4", "queued 2 at 6"}));
}

TEST(LearnerJournalTest, ARefusedAppendIsNeverApplied) {
  FakeJournal journal;
  Learner learner(NewModel(), {}, &journal);
  learner.Submit(Batch(3), [](absl::StatusOr<uint64_t>) {});
  journal.SetFull(true);
  absl::Status refused;
  learner.Submit(Batch(5),
                 [&](absl::StatusOr<uint64_t> v) { refused = v.status(); });
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kResourceExhausted));
  journal.SetFull(false);  // space returns
  learner.Submit(Batch(2), [](absl::StatusOr<uint64_t>) {});
  journal.Flush();
  learner.Stop();
  EXPECT_EQ(learner.Current()->version(), 5u);
  EXPECT_EQ(journal.starts(), (std::vector<uint64_t>{0, 3}));
}

TEST(LearnerJournalTest, ARefusedBatchIsNeverReportedAdmitted) {
  // A producer reads its next message when told its batch is admitted; it
  // must hear of a refusal first (and only), so it sends nothing after it.
  FakeJournal journal;
  Learner learner(NewModel(), {}, &journal);
  std::vector<std::string> events;
  auto submit = [&](size_t n) {
    events.clear();
    learner.Submit(
        Batch(n),
        [&](absl::StatusOr<uint64_t> v) {
          events.push_back(v.ok() ? "queued" : "refused");
        },
        [&] { events.push_back("admitted"); });
    return events;
  };
  journal.SetFull(true);
  EXPECT_EQ(submit(5), (std::vector<std::string>{"refused"}));
  learner.Stop();  // a stopped learner refuses the same way
  EXPECT_EQ(submit(1), (std::vector<std::string>{"refused"}));
}

TEST(LearnerJournalTest, AppliesABatchOnlyOnceItIsDurable) {
  FakeJournal journal;
  Learner learner(NewModel(), {}, &journal);
  learner.Submit(Batch(3), [](absl::StatusOr<uint64_t>) {});
  absl::SleepFor(absl::Milliseconds(50));  // time to apply, were it allowed
  EXPECT_EQ(learner.Current()->version(), 0u);
  EXPECT_EQ(learner.AdmittedVersion(), 3u);
  journal.Flush();
  learner.Stop();
  EXPECT_EQ(learner.Current()->version(), 3u);
}

TEST(LearnerJournalTest, PublishLagIsTheAgeOfTheOldestUnpublishedSample) {
  FakeJournal journal;
  Learner learner(NewModel(), {}, &journal);
  const absl::Time start = absl::Now();
  EXPECT_EQ(learner.PublishLag(start + absl::Seconds(5)), absl::ZeroDuration());
  learner.Submit(Batch(3), [](absl::StatusOr<uint64_t>) {});
  const absl::Time admitted = absl::Now();
  learner.Submit(Batch(2), [](absl::StatusOr<uint64_t>) {});
  // Not durable, so not applied: the first batch's admission time counts.
  const absl::Time later = absl::Now() + absl::Seconds(5);
  EXPECT_GE(learner.PublishLag(later), later - admitted);
  EXPECT_LE(learner.PublishLag(later), later - start);
  journal.Flush();
  absl::Notification published;
  learner.WhenVersion(5, [&](auto) { published.Notify(); });
  published.WaitForNotification();
  EXPECT_EQ(learner.PublishLag(later), absl::ZeroDuration());
}

TEST(LearnerJournalTest, BatchesDroppedAfterAFailedFsyncLeaveNoPublishLag) {
  FakeJournal journal;
  Learner learner(NewModel(), {}, &journal);
  learner.Submit(Batch(2), [](absl::StatusOr<uint64_t>) {});
  journal.FailPending(absl::UnavailableError("fsync: EIO"));
  journal.AllowReopen();
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!journal.reopened() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_TRUE(journal.reopened());
  EXPECT_EQ(learner.PublishLag(absl::Now() + absl::Seconds(5)),
            absl::ZeroDuration());
}

TEST(LearnerJournalTest, ABatchWhoseDurabilityFailsIsNeverApplied) {
  FakeJournal journal;
  Learner learner(NewModel(), {}, &journal);
  learner.Submit(Batch(3), [](absl::StatusOr<uint64_t>) {});
  journal.Flush();
  // Two batches are written, then the fsync covering them fails.
  std::vector<absl::Status> acks(2);
  learner.Submit(Batch(2),
                 [&](absl::StatusOr<uint64_t> v) { acks[0] = v.status(); });
  learner.Submit(Batch(4),
                 [&](absl::StatusOr<uint64_t> v) { acks[1] = v.status(); });
  journal.FailPending(absl::UnavailableError("fsync: EIO"));
  EXPECT_THAT(acks[0], StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(acks[1], StatusIs(absl::StatusCode::kUnavailable));
  // Until the journal reopens, batches are refused.
  absl::Status refused;
  learner.Submit(Batch(1),
                 [&](absl::StatusOr<uint64_t> v) { refused = v.status(); });
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kUnavailable));
  // The learner reopens it at its durable end and continues from there.
  journal.AllowReopen();
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!journal.reopened() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_TRUE(journal.reopened());
  absl::StatusOr<uint64_t> accepted;
  learner.Submit(Batch(1), [&](absl::StatusOr<uint64_t> v) { accepted = v; });
  journal.Flush();
  learner.Stop();
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  EXPECT_EQ(*accepted, 4u);
  EXPECT_EQ(learner.Current()->version(), 4u);
  EXPECT_EQ(journal.starts(), (std::vector<uint64_t>{0, 3, 5, 3}));
}

TEST(LearnerJournalTest, LearnsWhileAnAppendIsInProgress) {
  FakeJournal journal;
  Learner learner(NewModel(), {}, &journal);
  // Park the learner thread in a state callback (they run on it) ...
  absl::Notification in_callback, leave_callback;
  learner.WhenVersion(1, [&](auto) {
    in_callback.Notify();
    leave_callback.WaitForNotification();
  });
  learner.Submit(Batch(3), [](absl::StatusOr<uint64_t>) {});
  journal.Flush();
  in_callback.WaitForNotification();
  // ... so that a batch waits in the queue while the next one's append is
  // stuck on a slow disk.
  learner.Submit(Batch(2), [](absl::StatusOr<uint64_t>) {});
  journal.Flush();
  journal.HoldAppends();
  std::thread producer(
      [&] { learner.Submit(Batch(4), [](absl::StatusOr<uint64_t>) {}); });
  journal.AwaitHeldAppend();
  leave_callback.Notify();
  // The learner applies and publishes the queued batch meanwhile: the append
  // holds only the admission lock, not the learner's.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (learner.Current()->version() < 5 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_EQ(learner.Current()->version(), 5u);
  journal.ReleaseAppends();
  producer.join();
  journal.Flush();
  learner.Stop();
  EXPECT_EQ(learner.Current()->version(), 9u);
  EXPECT_EQ(journal.starts(), (std::vector<uint64_t>{0, 3, 5}));
}

}  // namespace
}  // namespace streamfit
