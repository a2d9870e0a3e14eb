// A few threads that run the background work of many sample logs (their
// fsyncs and durability callbacks), so a model costs no thread of its own
// for it.
#ifndef STREAMFIT_CORE_STORAGE_LOG_SYNC_POOL_H_
#define STREAMFIT_CORE_STORAGE_LOG_SYNC_POOL_H_

#include <cstdint>
#include <memory>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/node_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace streamfit {

// Contract:
// - A Task is run by one pool thread at a time, never by two at once, so
//   its rounds are ordered. Run() does one round and returns when it wants
//   the next: a time (absl::Now() or earlier: at once) or
//   absl::InfiniteFuture() (not until Wake).
// - Wake(task) makes the task due at once; a Wake that arrives while the
//   task runs makes it run again right after, so no wake-up is lost.
// - Tasks due at the same time run in the order they became due; a task
//   that blocks (a slow fsync) holds one thread, the others go on.
// - Remove(task) returns once the task is not running and will never run
//   again; every added task must be removed before the pool is destroyed
//   (users share ownership of the pool, so it outlives them), and a task
//   must not remove itself from within Run.
// Thread-safe.
class LogSyncPool {
 public:
  class Task {
   public:
    virtual ~Task() = default;
    virtual absl::Time Run() = 0;
  };

  explicit LogSyncPool(int threads);
  LogSyncPool(const LogSyncPool&) = delete;
  LogSyncPool& operator=(const LogSyncPool&) = delete;
  ~LogSyncPool();

  // Registers `task` (not owned), first due at `first_due`.
  void Add(Task* task, absl::Time first_due = absl::InfiniteFuture())
      ABSL_LOCKS_EXCLUDED(mu_);
  void Wake(Task* task) ABSL_LOCKS_EXCLUDED(mu_);
  void Remove(Task* task) ABSL_LOCKS_EXCLUDED(mu_);

  int threads() const { return static_cast<int>(threads_.size()); }

 private:
  struct Entry {
    absl::Time due = absl::InfiniteFuture();  // in due_ unless infinite
    uint64_t sequence = 0;  // tie-break in due_: first due, first run
    bool running = false;
    bool woken_while_running = false;
    bool removing = false;  // never scheduled again
  };
  using DueKey = std::pair<std::pair<absl::Time, uint64_t>, Task*>;

  void Loop() ABSL_LOCKS_EXCLUDED(mu_);
  // Moves `task` to `due` in the schedule (out of it if infinite).
  void Schedule(Task* task, Entry& entry, absl::Time due)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  absl::CondVar changed_;
  absl::CondVar round_ended_;
  // Node-based: an Entry stays put while other tasks come and go.
  absl::node_hash_map<Task*, Entry> tasks_ ABSL_GUARDED_BY(mu_);
  std::set<DueKey> due_ ABSL_GUARDED_BY(mu_);
  uint64_t next_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

// The process-wide pool sample logs use unless given one (4 threads, made on
// first use and never destroyed).
const std::shared_ptr<LogSyncPool>& DefaultLogSyncPool();

}  // namespace streamfit

#endif  // STREAMFIT_CORE_STORAGE_LOG_SYNC_POOL_H_
