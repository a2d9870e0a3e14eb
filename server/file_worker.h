// A few threads for work that waits on the disk (fsyncs, whole-file reads,
// dataset parsing), so that gRPC callback threads never do: a handler hands
// the work over with Run, and the work finishes the call's reactor when it
// is done. Tasks start in the order they were handed over; with more than
// one thread, several may run at once. Its threads are named `sf-file`.
//
// Thread-safe. The destructor runs every task already handed over, then
// joins the threads; Run after that point is a programming error.
#ifndef STREAMFIT_SERVER_FILE_WORKER_H_
#define STREAMFIT_SERVER_FILE_WORKER_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace streamfit {

class FileWorker {
 public:
  explicit FileWorker(int threads);
  ~FileWorker();
  FileWorker(const FileWorker&) = delete;
  FileWorker& operator=(const FileWorker&) = delete;

  // Queues `task` to run on one of the worker's threads.
  void Run(std::function<void()> task);

 private:
  void Loop();

  absl::Mutex mu_;
  absl::CondVar work_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace streamfit

#endif  // STREAMFIT_SERVER_FILE_WORKER_H_
