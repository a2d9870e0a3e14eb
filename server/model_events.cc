#include "server/model_events.h"

#include <vector>

#include "absl/time/clock.h"

namespace streamfit {

uint64_t ModelEvents::Subscribe(std::string model, Listener listener) {
  absl::MutexLock lock(&mu_);
  const uint64_t token = next_token_++;
  listeners_.emplace(token,
                     std::make_pair(std::move(model), std::move(listener)));
  return token;
}

void ModelEvents::Unsubscribe(uint64_t token) {
  absl::MutexLock lock(&mu_);
  listeners_.erase(token);
}

void ModelEvents::Publish(const v1::ModelEvent& event) {
  std::vector<Listener> listeners;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [token, entry] : listeners_) {
      if (entry.first == event.model()) listeners.push_back(entry.second);
    }
  }
  for (const Listener& listener : listeners) listener(event);
}

std::optional<v1::ModelEvent> ModelEvents::OfRetrainJob(
    const v1::RetrainJob& job) {
  v1::ModelEvent event;
  switch (job.state()) {
    case v1::RETRAIN_PENDING:
      return std::nullopt;
    case v1::RETRAIN_RUNNING:
      event.set_kind(job.swapped() ? v1::ModelEvent::RETRAIN_SWAPPED
                                   : v1::ModelEvent::RETRAIN_STARTED);
      event.set_model_version(job.swapped() ? job.swap_version() : 0);
      break;
    default:
      event.set_kind(v1::ModelEvent::RETRAIN_FINISHED);
      event.set_model_version(job.swapped() ? job.swap_version() : 0);
      break;
  }
  event.set_model(job.request().model());
  event.set_unix_ms(absl::ToUnixMillis(absl::Now()));
  *event.mutable_retrain_job() = job;
  return event;
}

}  // namespace streamfit
