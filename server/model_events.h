// The events of WatchModel that the server makes (retrain jobs' changes),
// fanned out to the watchers of each model. Drifts and Restores are seen by
// each watcher from the model's learner itself (server/watch_model.cc).
#ifndef STREAMFIT_SERVER_MODEL_EVENTS_H_
#define STREAMFIT_SERVER_MODEL_EVENTS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "streamfit/v1/streamfit.pb.h"

namespace streamfit {

// Thread-safe. Listeners run on the publishing thread, off the lock, and
// must not block; one may still run once just after its Unsubscribe.
class ModelEvents {
 public:
  using Listener = std::function<void(const v1::ModelEvent&)>;

  uint64_t Subscribe(std::string model, Listener listener)
      ABSL_LOCKS_EXCLUDED(mu_);
  void Unsubscribe(uint64_t token) ABSL_LOCKS_EXCLUDED(mu_);
  // Calls the listeners of event.model().
  void Publish(const v1::ModelEvent& event) ABSL_LOCKS_EXCLUDED(mu_);

  // The event of a retrain job's change as RetrainJobs reports it
  // (Options::on_state_change): started, swapped or finished.
  static std::optional<v1::ModelEvent> OfRetrainJob(const v1::RetrainJob& job);

 private:
  absl::Mutex mu_;
  uint64_t next_token_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<uint64_t, std::pair<std::string, Listener>> listeners_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace streamfit

#endif  // STREAMFIT_SERVER_MODEL_EVENTS_H_
