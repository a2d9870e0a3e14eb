// The protocol of one Observe or ObserveStream call, without gRPC.
#ifndef STREAMFIT_SERVER_OBSERVE_SESSION_H_
#define STREAMFIT_SERVER_OBSERVE_SESSION_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/kafka/catalogue.h"
#include "server/metrics/refusal_counts.h"
#include "server/model_registry.h"
#include "streamfit/v1/streamfit.pb.h"

namespace streamfit {

// What a call's reactor must start next, decided under the session's lock
// and started outside it, in this order: the write, the read, the finish.
struct ObserveActions {
  const v1::ObserveAck* write = nullptr;  // StartWrite (stable until written)
  bool read = false;                      // StartRead of the next request
  std::optional<absl::Status> finish;     // end the call with this status
};

// One call's stream of Observe requests for one model. The first request
// names the model (binding the call to it); later ones may only repeat the
// name. Each request is validated whole and handed to the model's learner;
// the next is read as soon as one is admitted to the learner's queue (its
// backpressure), so the requests of one call wait for one group commit
// together rather than an fsync each. A bad or refused request ends the
// call with its error; the requests queued before it stay applied, nothing
// after it is applied.
//
// Two ways to answer:
// - kOnce (Observe): one reply, once every request is queued (durable, with
//   a sample log) and applied: `reply` gets the samples accepted and the
//   model version they reach.
// - kEachRequest (ObserveStream): an ack per request, in order, once it is
//   queued; the acks before a failed request are written before the call
//   ends. Reading pauses while kMaxUnackedRequests acks wait (a slow disk or
//   a slow reader of acks), so memory stays bounded.
//
// The reactor calls OnRequest / OnReadsDone / OnAckWritten from its
// reactions and starts what they return; the learner's callbacks, on other
// threads, pass their actions to `act`. Thread-safe. Every learner callback
// has run before an action holds `finish`, and `act` is never called after
// it, so the reactor may be deleted once the call is done.
class ObserveSession {
 public:
  enum class Answer { kOnce, kEachRequest };
  static constexpr uint64_t kMaxUnackedRequests = 1024;

  using Act = absl::AnyInvocable<void(ObserveActions)>;

  // `registry` (and `kafka`, if set) outlives the session; `reply` (kOnce
  // only) must stay valid until the call ends. With `kafka` (Kafka mode)
  // each request is written to the model's topic, and counts as queued once
  // this replica has read and applied it (ModelTopic::Submit).
  ObserveSession(const ModelRegistry* registry, Answer answer,
                 v1::ObserveResponse* reply, Act act,
                 const kafka::Catalogue* kafka = nullptr);

  // A request was read; it may be reused once a returned or later action
  // asks for the next read.
  ObserveActions OnRequest(const v1::ObserveRequest& request);
  // The client finished sending (or the call was cancelled).
  ObserveActions OnReadsDone();
  // The ack of the last write was written (`ok`) or the client went away.
  ObserveActions OnAckWritten(bool ok);

 private:
  using Method = metrics::RefusalCounts::Method;

  // Learner callbacks: request `seq` (of `samples` samples) was admitted to
  // the learner's queue; it was queued and made durable, or refused.
  void Admitted();
  void Completed(uint64_t seq, uint64_t samples,
                 absl::StatusOr<uint64_t> end_version);

  // Counts a refusal of `samples` samples for the bound model, if any.
  void CountRefusal(const absl::Status& error, uint64_t samples);
  // What was decided under the lock: the actions, and how a kOnce call
  // ends once nothing is pending.
  struct Step {
    ObserveActions actions;
    enum class Reply { kNone, kNow, kWhenApplied } reply = Reply::kNone;
    uint64_t accepted = 0, version = 0;
  };
  // The actions for a step, outside the lock. kWhenApplied: the reply waits
  // for the model to publish `version`, the actions returned are empty, and
  // the caller must not touch the session after this (the call may end on
  // another thread at any time).
  ObserveActions Conclude(Step step);
  // Learner callbacks: passes the step's actions, if any, to act_.
  void Deliver(Step step);

  // Ends reading with `error` at request `seq`: acks from it on are dropped.
  void Fail(const absl::Status& error, uint64_t seq)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether a paused read may start now.
  bool ResumeReading() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The ack to write next, if no write is in flight.
  const v1::ObserveAck* NextWrite() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A step that starts `write` and `read`, and ends the call (once) when
  // reading has ended, every learner callback has run and every ack due is
  // written.
  Step Decide(const v1::ObserveAck* write, bool read)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ModelRegistry* const registry_;
  const kafka::Catalogue* const kafka_;
  const Answer answer_;
  const Method method_;
  v1::ObserveResponse* const reply_;
  Act act_;
  // Bound by the first request; read and written by reactions only, which
  // gRPC runs one at a time, and read by learner callbacks of requests
  // submitted after it was set.
  std::shared_ptr<LiveModel> model_;
  std::shared_ptr<kafka::ModelTopic> topic_;  // Kafka mode: model_'s

  absl::Mutex mu_;
  // Requests handed to the learner are numbered from 0 in the order read.
  uint64_t submitted_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t completed_ ABSL_GUARDED_BY(mu_) = 0;  // their callbacks have run
  uint64_t written_ ABSL_GUARDED_BY(mu_) = 0;    // acks written
  uint64_t next_ack_ ABSL_GUARDED_BY(mu_) = 0;   // next request to ack
  uint64_t accepted_ ABSL_GUARDED_BY(mu_) = 0;   // samples queued
  uint64_t last_version_ ABSL_GUARDED_BY(mu_) = 0;
  // Acks completed ahead of an earlier request's.
  std::map<uint64_t, v1::ObserveAck> ready_ ABSL_GUARDED_BY(mu_);
  std::deque<v1::ObserveAck> acks_ ABSL_GUARDED_BY(mu_);  // front: writing
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool read_paused_ ABSL_GUARDED_BY(mu_) = false;
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  bool ending_ ABSL_GUARDED_BY(mu_) = false;
  // The first failed request (none: the maximum) and its error.
  uint64_t fail_seq_ ABSL_GUARDED_BY(mu_) = UINT64_MAX;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
};

}  // namespace streamfit

#endif  // STREAMFIT_SERVER_OBSERVE_SESSION_H_
