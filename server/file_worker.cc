#include "server/file_worker.h"

#include <algorithm>
#include <utility>

#include "core/thread_name.h"

namespace streamfit {

FileWorker::FileWorker(int threads) {
  for (int i = 0; i < std::max(1, threads); ++i) {
    threads_.emplace_back([this] {
      NameThisThread("sf-file");
      Loop();
    });
  }
}

FileWorker::~FileWorker() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    work_.SignalAll();
  }
  for (std::thread& t : threads_) t.join();
}

void FileWorker::Run(std::function<void()> task) {
  absl::MutexLock lock(&mu_);
  tasks_.push_back(std::move(task));
  work_.Signal();
}

void FileWorker::Loop() {
  for (;;) {
    std::function<void()> task;
    {
      absl::MutexLock lock(&mu_);
      while (tasks_.empty() && !stopping_) work_.Wait(&mu_);
      if (tasks_.empty()) return;  // stopping, and every task has run
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
  }
}

}  // namespace streamfit
