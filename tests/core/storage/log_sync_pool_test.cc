#include "core/storage/log_sync_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace streamfit {
namespace {

constexpr absl::Duration kTimeout = absl::Seconds(20);

// Counts its rounds; each round may block until released, and asks for the
// next one at `next` after it.
class CountingTask : public LogSyncPool::Task {
 public:
  explicit CountingTask(absl::Duration next = absl::InfiniteDuration())
      : next_(next) {}

  absl::Time Run() override {
    EXPECT_FALSE(running_.exchange(true)) << "two rounds at once";
    {
      absl::MutexLock lock(&mu_);
      ++rounds_;
      parked_ = blocked_;
      changed_.SignalAll();
      while (blocked_) changed_.Wait(&mu_);
      parked_ = false;
    }
    running_ = false;
    return next_ == absl::InfiniteDuration() ? absl::InfiniteFuture()
                                             : absl::Now() + next_;
  }

  void Block() {
    absl::MutexLock lock(&mu_);
    blocked_ = true;
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    blocked_ = false;
    changed_.SignalAll();
  }
  // Waits until at least `n` rounds started; false on timeout. (CondVar
  // waits, not Abseil Conditions: Debian's Abseil is not built for TSan.)
  bool WaitForRounds(int n) {
    const absl::Time deadline = absl::Now() + kTimeout;
    absl::MutexLock lock(&mu_);
    while (rounds_ < n) {
      if (changed_.WaitWithDeadline(&mu_, deadline)) return rounds_ >= n;
    }
    return true;
  }
  int rounds() {
    absl::MutexLock lock(&mu_);
    return rounds_;
  }
  // Waits until a round is held by Block(); false on timeout.
  bool WaitUntilParked() {
    const absl::Time deadline = absl::Now() + kTimeout;
    absl::MutexLock lock(&mu_);
    while (!parked_) {
      if (changed_.WaitWithDeadline(&mu_, deadline)) return parked_;
    }
    return true;
  }

 private:
  const absl::Duration next_;
  std::atomic<bool> running_{false};
  absl::Mutex mu_;
  absl::CondVar changed_;
  int rounds_ ABSL_GUARDED_BY(mu_) = 0;
  bool blocked_ ABSL_GUARDED_BY(mu_) = false;
  bool parked_ ABSL_GUARDED_BY(mu_) = false;  // a round waits in Block()
};

TEST(LogSyncPoolTest, WakeRunsAnIdleTaskOnce) {
  LogSyncPool pool(2);
  CountingTask task;
  pool.Add(&task);
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_EQ(task.rounds(), 0);  // not due until woken
  pool.Wake(&task);
  ASSERT_TRUE(task.WaitForRounds(1));
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_EQ(task.rounds(), 1);
  pool.Remove(&task);
}

TEST(LogSyncPoolTest, ATaskRunsAgainWhenItsReturnedTimeComes) {
  LogSyncPool pool(1);
  CountingTask task(absl::Milliseconds(5));
  pool.Add(&task, absl::Now());
  EXPECT_TRUE(task.WaitForRounds(5));
  pool.Remove(&task);
  const int rounds = task.rounds();
  absl::SleepFor(absl::Milliseconds(30));
  EXPECT_EQ(task.rounds(), rounds);  // removed: never again
}

TEST(LogSyncPoolTest, AWakeDuringARoundRunsAnotherRoundAfterIt) {
  LogSyncPool pool(4);
  CountingTask task;
  pool.Add(&task);
  task.Block();
  pool.Wake(&task);
  ASSERT_TRUE(task.WaitForRounds(1));
  // The round is blocked; wakes now must not start a second round beside it
  // (CountingTask fails the test if they overlap) nor be lost.
  for (int i = 0; i < 100; ++i) pool.Wake(&task);
  task.Release();
  EXPECT_TRUE(task.WaitForRounds(2));
  pool.Remove(&task);
}

TEST(LogSyncPoolTest, ABlockedTaskHoldsOneThreadOnly) {
  LogSyncPool pool(2);
  CountingTask slow, fast;
  pool.Add(&slow);
  pool.Add(&fast);
  slow.Block();
  pool.Wake(&slow);
  ASSERT_TRUE(slow.WaitForRounds(1));
  pool.Wake(&fast);
  EXPECT_TRUE(fast.WaitForRounds(1));
  slow.Release();
  pool.Remove(&slow);
  pool.Remove(&fast);
}

TEST(LogSyncPoolTest, RemoveWaitsForTheRunningRound) {
  LogSyncPool pool(1);
  CountingTask task(absl::ZeroDuration());  // always due again at once
  pool.Add(&task, absl::Now());
  ASSERT_TRUE(task.WaitForRounds(3));
  task.Block();
  // Every round that starts from now on blocks: wait until one has.
  ASSERT_TRUE(task.WaitUntilParked());
  absl::Notification removed;
  std::thread remover([&] {
    pool.Remove(&task);
    removed.Notify();
  });
  EXPECT_FALSE(removed.WaitForNotificationWithTimeout(absl::Milliseconds(50)));
  task.Release();
  EXPECT_TRUE(removed.WaitForNotificationWithTimeout(kTimeout));
  remover.join();
  const int rounds = task.rounds();
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_EQ(task.rounds(), rounds);
}

TEST(LogSyncPoolTest, ManyTasksShareAFewThreads) {
  LogSyncPool pool(4);
  std::vector<std::unique_ptr<CountingTask>> tasks;
  for (int i = 0; i < 200; ++i) {
    tasks.push_back(std::make_unique<CountingTask>());
    pool.Add(tasks.back().get());
  }
  for (int round = 1; round <= 3; ++round) {
    for (auto& t : tasks) pool.Wake(t.get());
    for (auto& t : tasks) ASSERT_TRUE(t->WaitForRounds(round));
  }
  for (auto& t : tasks) pool.Remove(t.get());
  EXPECT_EQ(pool.threads(), 4);
}

}  // namespace
}  // namespace streamfit
