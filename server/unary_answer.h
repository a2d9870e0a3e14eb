// Ending the unary calls that read a model's published state: at once, or
// once the model reaches a requested version (Predict's min_version, the
// Open Inference Protocol's model_version).
#ifndef STREAMFIT_SERVER_UNARY_ANSWER_H_
#define STREAMFIT_SERVER_UNARY_ANSWER_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "core/model/linear_model.h"
#include "server/model_registry.h"

namespace streamfit {

// Ends the call with `status` (converted once, here) on its default reactor.
grpc::ServerUnaryReactor* FinishWith(grpc::CallbackServerContext* context,
                                     const absl::Status& status);

// Fills a call's response from a published model state; its status ends
// the call.
using StateAnswer = absl::AnyInvocable<absl::Status(const LinearModel& state)>;
// Sees the error a call ends with (not called for OK).
using ErrorObserver = absl::AnyInvocable<void(const absl::Status& error)>;

// Ends the call with `answer` run on `model`'s published state once its
// version is at least `version`: at once, on the calling thread, when it
// already is (the common case); otherwise on the learner's thread when a
// state that new is published. If the deadline passes or the client cancels
// first, the call ends with DEADLINE_EXCEEDED naming `version_field`,
// `answer` never runs, and the waiter is dropped, so a version never reached
// holds no memory. `on_error` (may be null) sees the error the call ends
// with, if any. The call ends exactly once.
grpc::ServerUnaryReactor* AnswerAtVersion(grpc::CallbackServerContext* context,
                                          std::shared_ptr<LiveModel> model,
                                          uint64_t version,
                                          std::string version_field,
                                          StateAnswer answer,
                                          ErrorObserver on_error = nullptr);

}  // namespace streamfit

#endif  // STREAMFIT_SERVER_UNARY_ANSWER_H_
