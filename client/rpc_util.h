// Internal helpers of the client library: gRPC status conversion and one
// unary call with a deadline.
#ifndef STREAMFIT_CLIENT_RPC_UTIL_H_
#define STREAMFIT_CLIENT_RPC_UTIL_H_

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/client_context.h"
#include "streamfit/v1/streamfit.grpc.pb.h"

namespace streamfit {

// The one place where gRPC statuses become absl ones; the codes are the
// same canonical codes.
inline absl::Status ToAbslStatus(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

template <typename Request, typename Response>
using UnaryMethod = grpc::Status (v1::Learner::Stub::*)(grpc::ClientContext*,
                                                        const Request&,
                                                        Response*);

// Makes one unary call with a deadline `timeout` from now.
template <typename Request, typename Response>
absl::StatusOr<Response> CallUnary(v1::Learner::Stub& stub,
                                   UnaryMethod<Request, Response> method,
                                   const Request& request,
                                   absl::Duration timeout) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  Response response;
  grpc::Status status = (stub.*method)(&context, request, &response);
  if (!status.ok()) return ToAbslStatus(status);
  return response;
}

}  // namespace streamfit

#endif  // STREAMFIT_CLIENT_RPC_UTIL_H_
