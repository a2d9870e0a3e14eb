#include "core/storage/log_sync_pool.h"

#include "absl/base/internal/raw_logging.h"
#include "core/thread_name.h"

namespace streamfit {

LogSyncPool::LogSyncPool(int threads) {
  ABSL_RAW_CHECK(threads > 0, "a sync pool needs a thread");
  threads_.reserve(threads);
  for (int i = 0; i < threads; ++i) {
    threads_.emplace_back([this] {
      NameThisThread("sf-log-sync");
      Loop();
    });
  }
}

LogSyncPool::~LogSyncPool() {
  {
    absl::MutexLock lock(&mu_);
    ABSL_RAW_CHECK(tasks_.empty(), "a sample log outlives its sync pool");
    stopping_ = true;
    changed_.SignalAll();
  }
  for (std::thread& t : threads_) t.join();
}

void LogSyncPool::Add(Task* task, absl::Time first_due) {
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = tasks_.try_emplace(task);
  ABSL_RAW_CHECK(inserted, "a task added twice");
  Schedule(task, it->second, first_due);
}

void LogSyncPool::Wake(Task* task) {
  absl::MutexLock lock(&mu_);
  auto it = tasks_.find(task);
  if (it == tasks_.end() || it->second.removing) return;
  Entry& entry = it->second;
  if (entry.running) {
    entry.woken_while_running = true;
  } else if (entry.due > absl::Now()) {
    Schedule(task, entry, absl::Now());
  }
}

void LogSyncPool::Remove(Task* task) {
  absl::MutexLock lock(&mu_);
  auto it = tasks_.find(task);
  if (it == tasks_.end()) return;
  Entry* const entry = &it->second;
  entry->removing = true;
  Schedule(task, *entry, absl::InfiniteFuture());
  while (entry->running) round_ended_.Wait(&mu_);
  tasks_.erase(task);
}

void LogSyncPool::Schedule(Task* task, Entry& entry, absl::Time due) {
  if (entry.due != absl::InfiniteFuture()) {
    due_.erase({{entry.due, entry.sequence}, task});
  }
  entry.due = due;
  if (due == absl::InfiniteFuture()) return;
  entry.sequence = next_sequence_++;
  due_.insert({{due, entry.sequence}, task});
  changed_.Signal();
}

void LogSyncPool::Loop() {
  mu_.Lock();
  for (;;) {
    if (stopping_) break;
    if (due_.empty()) {
      changed_.Wait(&mu_);
      continue;
    }
    const absl::Time first = due_.begin()->first.first;
    if (first > absl::Now()) {
      changed_.WaitWithDeadline(&mu_, first);
      continue;
    }
    Task* const task = due_.begin()->second;
    due_.erase(due_.begin());
    Entry* const entry = &tasks_.at(task);
    entry->due = absl::InfiniteFuture();
    entry->running = true;
    mu_.Unlock();
    absl::Time next = task->Run();
    mu_.Lock();
    entry->running = false;
    round_ended_.SignalAll();  // a Remove may wait for this round
    if (entry->removing) continue;
    if (entry->woken_while_running) {
      entry->woken_while_running = false;
      next = absl::Now();
    }
    Schedule(task, *entry, next);
  }
  mu_.Unlock();
}

const std::shared_ptr<LogSyncPool>& DefaultLogSyncPool() {
  static const auto* const pool =
      new std::shared_ptr<LogSyncPool>(std::make_shared<LogSyncPool>(4));
  return *pool;
}

}  // namespace streamfit
